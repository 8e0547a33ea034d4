package loadtest

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel kill the child if this process
// dies without stopping it (SIGKILL of the bench), so no emulator is
// left behind.
func setParentDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
