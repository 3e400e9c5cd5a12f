package jaegertest

import "syscall"

// sysProcAttr has the kernel kill Jaeger when the test binary dies without running its cleanups
// (a test timeout's panic, a SIGKILL), so that no Jaeger outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
