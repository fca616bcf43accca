module wardentools/opaenvoyplugin

go 1.26

require github.com/open-policy-agent/opa-envoy-plugin v1.15.2-envoy
