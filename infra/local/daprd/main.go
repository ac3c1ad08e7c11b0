// Command daprd is the upstream Dapr sidecar (github.com/dapr/dapr/cmd/daprd), built with the
// "stablecomponents" tag, plus the SQLite name resolver so that service discovery works on hosts
// without multicast (upstream only registers it in "allcomponents" builds).
package main

import (
	"github.com/dapr/components-contrib/nameresolution/sqlite"
	"github.com/dapr/dapr/cmd/daprd/app"
	nrLoader "github.com/dapr/dapr/pkg/components/nameresolution"
)

func init() {
	nrLoader.DefaultRegistry.RegisterComponent(sqlite.NewResolver, "sqlite")
}

func main() {
	app.Run()
}
