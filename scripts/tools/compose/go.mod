module wardentools/compose

go 1.26.8

require github.com/docker/compose/v5 v5.6.0

// Repeated from Compose's own go.mod: a dependency's exclude directives do not apply outside it.
exclude (
	github.com/davecgh/go-spew v1.1.2-0.20180830191138-d8f796af33cc
	github.com/pmezard/go-difflib v1.0.1-0.20181226105442-5d4384ee4fb2
)
