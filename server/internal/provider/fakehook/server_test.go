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

// TestLogKeep: a log told to keep its newest n reads as those n, however many were added and
// however many it holds between its trims; Len and Since still count every entry, so a reader
// that took Len before an action finds the action's entries after it.
func TestLogKeep(t *testing.T) {
	t.Parallel()
	var l fakehook.Log[int]
	for i := range 5 {
		l.Add(i)
	}
	l.Keep(3)
	require.Equal(t, []int{2, 3, 4}, l.All(), "Keep trims what is there")
	require.Equal(t, 5, l.Len())
	for i := 5; i < 23; i++ {
		l.Add(i)
		want := []int{i - 2, i - 1, i}
		require.Equal(t, want, l.All(), "after adding %d", i)
		require.Equal(t, i+1, l.Len())
		require.Equal(t, want, l.Since(0), "Since before the oldest kept: all that is kept")
		require.Equal(t, []int{i}, l.Since(i))
		require.Nil(t, l.Since(i+1))
		require.Equal(t, 2, l.Count(func(n int) bool { return n >= i-1 }))
		require.Equal(t, []int{i - 2}, l.Filter(func(n int) bool { return n == i-2 }))
		require.Nil(t, l.Filter(func(n int) bool { return n == i-3 }), "let go")
	}
	since := l.Since(21)
	since[0] = 99
	require.Equal(t, []int{20, 21, 22}, l.All(), "Since is a copy")

	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() { l.Add(100 + i) })
	}
	wg.Wait()
	require.Equal(t, 123, l.Len(), "adding from many goroutines loses no count")
	require.Len(t, l.All(), 3)

	l.Keep(0)
	for i := range 10 {
		l.Add(1000 + i)
	}
	require.Len(t, l.All(), 13, "Keep(0) keeps everything again")
	require.Equal(t, 133, l.Len())
	require.Equal(t, []int{1008, 1009}, l.Since(131))
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
