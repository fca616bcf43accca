module wardentools/jaeger

go 1.26

require github.com/jaegertracing/jaeger v1.75.0

// Jaeger's own replace directive (its go.mod): `go install pkg@version` refuses a module that has one,
// so scripts/setup builds through this wrapper and repeats it here.
replace github.com/Shopify/sarama => github.com/Shopify/sarama v1.33.0
