//go:build !linux

package main

import "time"

// sleepPrecise is time.Sleep where nanosleep(2) is not used (loadgen's CPU figures need
// Linux's /proc in any case).
func sleepPrecise(d time.Duration) { time.Sleep(d) }
