package store

import "testing"

// TestPoolSizes: the three pools together open as many connections as asked, the side pools
// their full size from a total of 30 (the default), and at least one each below that.
func TestPoolSizes(t *testing.T) {
	for _, c := range []struct{ total, main, writes, batches int32 }{
		{0, 20, 7, 3},
		{DefaultMaxConns, 20, 7, 3},
		{100, 90, 7, 3},
		{12, 6, 4, 2},
		{6, 3, 2, 1},
		{5, 3, 1, 1},
		{MinMaxConns, 2, 1, 1},
		{3, 2, 1, 1}, // raised to MinMaxConns
		{-1, 20, 7, 3},
	} {
		main, writes, batches := poolSizes(c.total)
		if main != c.main || writes != c.writes || batches != c.batches {
			t.Errorf("poolSizes(%d) = %d, %d, %d; want %d, %d, %d", c.total, main, writes, batches, c.main, c.writes, c.batches)
		}
		if want := max(c.total, MinMaxConns); c.total > 0 && main+writes+batches != want {
			t.Errorf("poolSizes(%d) opens %d connections, want %d", c.total, main+writes+batches, want)
		}
	}
}
