//go:build unix && !linux

package pgembed

import "syscall"

// sysProcAttr runs the child as cred (nil: as ourselves). The server gets
// its own process group so that a Ctrl-C in the terminal reaches only
// gathering, which then stops the database after it has finished with it.
// Without Linux's parent-death signal an orphaned server is instead
// detected, and reported, by the next Start.
func sysProcAttr(cred *syscall.Credential, server bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: server}
}
