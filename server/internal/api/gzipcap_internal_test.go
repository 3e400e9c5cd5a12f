package api

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func gzipped(t *testing.T, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	require.NoError(t, err)
	zero := make([]byte, 64<<10)
	for left := n; left > 0; left -= len(zero) {
		_, err := zw.Write(zero[:min(left, len(zero))])
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return b.Bytes()
}

// A compressed request is inflated up to the cap and one byte, never to its end: 64 MiB of
// zeros (64 KiB compressed) is not inflated past 1 MiB. One within the cap inflates whole, and
// the reader, reset, starts counting again.
func TestCappedGzipStopsPastTheCap(t *testing.T) {
	t.Parallel()
	const cap = 1 << 20
	bomb := gzipped(t, 64<<20)
	d := newCappedGzip(cap)
	require.NoError(t, d.Reset(bytes.NewReader(bomb)))
	n, err := io.Copy(io.Discard, d)
	require.True(t, errors.Is(err, errInflatedPastCap), "%v", err)
	require.Equal(t, int64(cap+1), n)

	for _, size := range []int{0, 1000, cap} {
		require.NoError(t, d.Reset(bytes.NewReader(gzipped(t, size))))
		got, err := io.ReadAll(d)
		require.NoError(t, err, size)
		require.Len(t, got, size)
	}
}
