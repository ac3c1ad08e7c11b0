// Command coredns is upstream CoreDNS (github.com/coredns/coredns) with only the plugins the
// local cluster's Corefile uses (../../kube.sh writes it): the cluster.local zone from the API
// server, the rest forwarded to the host's resolvers. Upstream's own main imports every plugin,
// whose dependencies (cloud SDKs) would triple the build.
package main

import (
	_ "github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() {
	coremain.Run()
}
