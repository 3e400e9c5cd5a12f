package testlog_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/testlog"
)

// TestBufferConcurrentWrites: writes from several goroutines at once all land, each whole, while
// String is read meanwhile as a test polling a log does (-race checks the locking).
func TestBufferConcurrentWrites(t *testing.T) {
	t.Parallel()
	const writers, writes = 8, 100
	var b testlog.Buffer
	var want []string
	var wg sync.WaitGroup
	for w := range writers {
		for i := range writes {
			want = append(want, fmt.Sprintf("writer %d line %d", w, i))
		}
		wg.Go(func() {
			for i := range writes {
				line := fmt.Sprintf("writer %d line %d\n", w, i)
				n, err := b.Write([]byte(line))
				assert.NoError(t, err) // not require: FailNow must not run off the test's goroutine
				assert.Equal(t, len(line), n)
				_ = b.String()
			}
		})
	}
	wg.Wait()

	require.ElementsMatch(t, want, strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n"))
}
