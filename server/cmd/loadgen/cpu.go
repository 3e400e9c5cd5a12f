package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// cpuTime is a process's CPU time from /proc/<pid>/stat: utime + stime, plus cutime + cstime
// (its children that ended and were waited for). The children count for PostgreSQL: a
// backend that ends during a scenario (a connection closed) leaves its time to the
// postmaster's cutime rather than losing it.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces: fields count from
	// after its closing parenthesis, where field 3 (state) is rest[0].
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	rest := strings.Fields(s[i+1:])
	if len(rest) < 15 {
		return 0, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	var ticks int64
	for _, f := range rest[11:15] { // fields 14 to 17: utime, stime, cutime, cstime
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// cpuOf sums the CPU time of pids; a process that is gone is an error.
func cpuOf(pids []int) (time.Duration, error) {
	var sum time.Duration
	for _, pid := range pids {
		t, err := cpuTime(pid)
		if err != nil {
			return 0, err
		}
		sum += t
	}
	return sum, nil
}

// postgresCPU sums the CPU time of every process named postgres on the machine (other
// databases' included: run on a quiet server), in a consistent sample (stableSum).
func postgresCPU() time.Duration {
	return stableSum(postgresPIDs, func(pids []int) time.Duration {
		var sum time.Duration
		for _, pid := range pids {
			if t, err := cpuTime(pid); err == nil {
				sum += t
			}
		}
		return sum
	})
}

// postgresPIDs lists the processes named postgres, in /proc's order.
func postgresPIDs() []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		pids = append(pids, pid)
	}
	return pids
}

// stableSum reads the processes' CPU time again while the set of processes changed during the
// read (list, then sum, then list again), up to a bound, and returns the last sum. A backend
// that ends is reaped by the postmaster, whose cutime then holds its time: reaped between
// reading the two, it was counted in neither or in both. make bench's -baseline pgbench ends
// right before a row's first sample, and its backends exit then.
func stableSum(list func() []int, sum func([]int) time.Duration) time.Duration {
	pids := list()
	var s time.Duration
	for range 100 {
		s = sum(pids)
		again := list()
		if slices.Equal(pids, again) {
			break
		}
		pids = again
	}
	return s
}

// cpuMeter reads the server's, the database's and the load's CPU time before and after a
// scenario. The load is this process and the fakes it started: on a machine that the server
// and PostgreSQL share with them, what they spend is not the server's to use.
type cpuMeter struct {
	serverPIDs []int
	db         bool
	loadPIDs   []int
	rssEvery   time.Duration // how often the servers' resident memory is read (memory.go)
}

type cpuSample struct {
	server, db, load time.Duration
	serverOK, loadOK bool
}

func (m cpuMeter) sample() cpuSample {
	var s cpuSample
	if len(m.serverPIDs) > 0 {
		t, err := cpuOf(m.serverPIDs)
		s.server, s.serverOK = t, err == nil
	}
	if m.db {
		s.db = postgresCPU()
	}
	if len(m.loadPIDs) > 0 {
		t, err := cpuOf(m.loadPIDs)
		s.load, s.loadOK = t, err == nil
	}
	return s
}

// cpuUse is the CPU milliseconds per request between two samples (-1: not measured).
type cpuUse struct{ server, db, load float64 }

func (m cpuMeter) perRequest(before, after cpuSample, n int64) cpuUse {
	u := cpuUse{-1, -1, -1}
	if n <= 0 {
		return u
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	if before.serverOK && after.serverOK {
		u.server = per(after.server - before.server)
	}
	if m.db {
		u.db = per(after.db - before.db)
	}
	if before.loadOK && after.loadOK {
		u.load = per(after.load - before.load)
	}
	return u
}
