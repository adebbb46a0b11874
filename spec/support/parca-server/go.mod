// Builds Parca's own command (github.com/parca-dev/parca/cmd/parca) for the
// integration specs: `go install pkg@version` refuses here because it asks the module
// proxy for Parca's version list (for deprecation notices), which the proxy does not
// serve; building the same package from a module that requires it needs no list.
module pgolua.spec/parca-server

go 1.25.0

require github.com/parca-dev/parca v0.28.0
