//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// interruptible makes ctx's end stop cmd the way Ctrl-C stops a command at
// a terminal: SIGINT to its whole process group, so that the compilers go
// build runs stop too, rather than keep writing into its work directory.
func interruptible(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
}
