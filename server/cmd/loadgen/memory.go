package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// rssBytes is a process's resident set (VmRSS in /proc/<pid>/status).
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(b)
}

// parseVmRSS reads the "VmRSS:  123456 kB" line of a /proc/<pid>/status.
func parseVmRSS(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("VmRSS: unexpected %q", bytes.TrimSpace(rest))
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("VmRSS: unexpected %q", bytes.TrimSpace(rest))
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no VmRSS line (a kernel thread, or not Linux)")
}

// rssSample is the server's resident memory (every -server-pid's together) at a moment of a
// timed part, in seconds from its start.
type rssSample struct {
	At float64 `json:"at_s"`
	MB float64 `json:"mb"`
}

// rssSampler reads the servers' resident memory at the start of a timed part, every interval
// during it and at its end: memory that keeps growing under a steady load is a leak, which a
// run of minutes at a fixed rate shows (issue 18: memory flat over ten minutes).
type rssSampler struct {
	pids    []int
	began   time.Time
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	samples []rssSample
	err     error
}

// startRSS starts sampling pids every interval; nil (nothing sampled) without pids or interval.
func startRSS(pids []int, interval time.Duration) *rssSampler {
	if len(pids) == 0 || interval <= 0 {
		return nil
	}
	s := &rssSampler{pids: pids, began: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	s.take()
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.take()
			}
		}
	}()
	return s
}

func (s *rssSampler) take() {
	var sum int64
	for _, pid := range s.pids {
		n, err := rssBytes(pid)
		if err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			return
		}
		sum += n
	}
	at := time.Since(s.began).Seconds()
	s.mu.Lock()
	s.samples = append(s.samples, rssSample{At: float64(int64(at*10)) / 10, MB: float64(sum*10>>20) / 10})
	s.mu.Unlock()
}

// end takes the last sample and returns them all; none when a server could not be read (it
// ended: the row's check says so).
func (s *rssSampler) end() []rssSample {
	if s == nil {
		return nil
	}
	close(s.stop)
	<-s.done
	s.take()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil
	}
	return s.samples
}
