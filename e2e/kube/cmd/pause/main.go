// Command pause is the sandbox ("pause") image of the e2e/kube cluster: it
// waits for SIGTERM or SIGINT and exits 0. Built static, FROM scratch.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
