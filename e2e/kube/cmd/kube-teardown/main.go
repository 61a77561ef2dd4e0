// Command kube-teardown removes what an interrupted e2e/kube run left
// behind, from the state file the harness keeps in its work directory:
//
//	kube-teardown WORKDIR
//
// It stops the processes the run started (by PID, checking their start
// time), and removes the links, mounts, nft tables, iptables rules, cgroups
// and files the run created, and nothing else. Safe to run twice.
package main

import (
	"fmt"
	"os"

	"github.com/podlife/podlife/e2e/kube/cluster"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] == "" || os.Args[1][0] == '-' {
		fmt.Fprintln(os.Stderr, "kube-teardown: want one argument, the work directory of an e2e/kube run")
		os.Exit(2)
	}
	if err := cluster.Teardown(os.Args[1], func(f string, a ...any) { fmt.Fprintf(os.Stderr, "kube-teardown: "+f+"\n", a...) }); err != nil {
		fmt.Fprintln(os.Stderr, "kube-teardown:", err)
		os.Exit(1)
	}
}
