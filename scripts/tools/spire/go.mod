module wardentools/spire

go 1.26

require github.com/spiffe/spire v1.13.3
