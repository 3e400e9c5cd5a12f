package main

import (
	"syscall"
	"time"
)

// sleepPrecise blocks the calling thread in nanosleep(2) for d (or until a signal, such as
// the Go runtime's preemption, interrupts it: SleepUntil then sleeps what is left). The
// kernel's high-resolution timers wake it within microseconds; the goroutine's thread is
// blocked meanwhile, which costs nothing for the few milliseconds it is used.
func sleepPrecise(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}
