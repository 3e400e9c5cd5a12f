package fakehook_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/provider/fakehook"
)

// TestLog: entries come back in the order added, as copies; Filter, Count, Len and Since see
// the same entries; adding from many goroutines loses none.
func TestLog(t *testing.T) {
	t.Parallel()
	var l fakehook.Log[int]
	require.Nil(t, l.All())
	require.Nil(t, l.Filter(func(int) bool { return true }))
	require.Zero(t, l.Count(func(int) bool { return true }))

	for i := range 5 {
		l.Add(i)
	}
	all := l.All()
	require.Equal(t, []int{0, 1, 2, 3, 4}, all)
	all[0] = 99
	require.Equal(t, 0, l.All()[0], "All is a copy")
	even := func(n int) bool { return n%2 == 0 }
	require.Equal(t, []int{0, 2, 4}, l.Filter(even))
	require.Equal(t, 3, l.Count(even))
	require.Equal(t, 5, l.Len())
	require.Equal(t, []int{3, 4}, l.Since(3))
	require.Equal(t, []int{0, 1, 2, 3, 4}, l.Since(-1))
	require.Nil(t, l.Since(5), "nothing added since")
	since := l.Since(4)
	since[0] = 99
	require.Equal(t, 4, l.All()[4], "Since is a copy")

	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { l.Add(100 + i) })
	}
	wg.Wait()
	require.Len(t, l.All(), 15)
	require.Equal(t, 10, l.Count(func(n int) bool { return n >= 100 }))
}

// TestQueue: n copies in, oldest out first; an empty queue says so.
func TestQueue(t *testing.T) {
	t.Parallel()
	var q fakehook.Queue[string]
	_, ok := q.Pop()
	require.False(t, ok)
	q.Push(2, "a")
	q.Push(0, "never")
	q.Push(-1, "never")
	q.Push(1, "b")
	var got []string
	for v, ok := q.Pop(); ok; v, ok = q.Pop() {
		got = append(got, v)
	}
	require.Equal(t, []string{"a", "a", "b"}, got)
}

// TestTrigger: one Fire per arming, however often it was armed.
func TestTrigger(t *testing.T) {
	t.Parallel()
	var tr fakehook.Trigger
	require.False(t, tr.Fire(), "not armed")
	tr.Arm()
	tr.Arm()
	require.True(t, tr.Fire())
	require.False(t, tr.Fire(), "armed twice is armed once")
}

func TestSetRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, ""},
		{-time.Second, ""},
		{time.Millisecond, "1"},
		{time.Second, "1"},
		{1500 * time.Millisecond, "2"},
		{20 * time.Minute, "1200"},
	} {
		h := http.Header{}
		fakehook.SetRetryAfter(h, tc.d)
		require.Equal(t, tc.want, h.Get("Retry-After"), tc.d)
	}
}
