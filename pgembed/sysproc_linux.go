package pgembed

import "syscall"

// sysProcAttr runs the child as cred (nil: as ourselves). The server gets
// its own process group so that a Ctrl-C in the terminal reaches only
// gathering, which then stops the database after it has finished with it;
// and a parent-death signal, so that a crashed or SIGKILLed gathering does
// not leave an orphan server holding the data directory.
func sysProcAttr(cred *syscall.Credential, server bool) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Credential: cred}
	if server {
		attr.Setpgid = true
		attr.Pdeathsig = syscall.SIGINT
	}
	return attr
}
