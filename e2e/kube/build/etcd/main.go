// Command etcd is upstream etcd's server, built from go.etcd.io/etcd/server/v3
// for the e2e/kube suite's single-node cluster.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
