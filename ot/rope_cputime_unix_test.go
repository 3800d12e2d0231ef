//go:build unix

package ot

import (
	"syscall"
	"time"
)

// ropeCPUTime is the user and system CPU time the process has used, GC
// workers included; benchmarks report it beside wall time because it is
// steadier on a busy machine.
func ropeCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
