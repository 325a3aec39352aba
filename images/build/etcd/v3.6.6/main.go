// Command etcd is upstream's server/main.go: etcd's own go.mod uses relative replaces, so
// `go install` refuses it; this wrapper module requires the tagged server module instead.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
