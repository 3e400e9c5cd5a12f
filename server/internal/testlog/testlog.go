// Package testlog holds the one writer tests give a logger or a child process when they read
// its output while other goroutines still write to it: a bytes.Buffer alone would race.
//
// It imports nothing of the testing package, so non-test helpers such as jaegertest use it too.
package testlog

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer guarded by a mutex, so that a slog handler, an exporter or an
// exec.Cmd may write to it from their goroutines while the test reads it. The zero value is
// ready to use; it must not be copied after first use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; it is an io.Writer for slog.NewJSONHandler, exec.Cmd.Stdout and the like.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far. It copies, so the caller may keep it while
// writes go on.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
