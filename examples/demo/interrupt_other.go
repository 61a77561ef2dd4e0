//go:build !unix

package main

import (
	"os"
	"os/exec"
)

// interruptible makes ctx's end interrupt cmd rather than kill it.
func interruptible(cmd *exec.Cmd) {
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
}
