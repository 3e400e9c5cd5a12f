package store

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// engine.NewIDAt makes instance ids; the id of an instance created at t lies in [idFloor(t), idFloor(t+1ms)): what the created-at
// range filter of ListInstances relies on.
func TestNewIDAtIsUUIDv7WithinItsMillisecond(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 27, 17, 0, 0, 0, time.UTC)
	for _, d := range []time.Duration{0, time.Microsecond, 999 * time.Microsecond, time.Millisecond, 36 * time.Hour} {
		at := base.Add(d)
		for range 100 {
			id := uuid.MustParse(engine.NewIDAt(at))
			require.EqualValues(t, 7, id.Version())
			require.Equal(t, "RFC4122", id.Variant().String())
			require.Equal(t, at.UnixMilli(), time.Unix(id.Time().UnixTime()).UnixMilli())
			require.GreaterOrEqual(t, id.String(), idFloor(at).String())
			require.Less(t, id.String(), idFloor(at.Add(time.Millisecond)).String())
		}
	}
	require.Less(t, engine.NewIDAt(base), engine.NewIDAt(base.Add(time.Millisecond)), "later milliseconds sort later")
}

// TestNewIDAtSortsWithinItsMillisecond: ids made for later times of one millisecond sort
// later, however close the times (closer than rand_a's 256 ns too), and ids made for one
// instant sort in the order they were made, each still of its millisecond. The times are
// far ahead of every other test's clock: their ids leave the sequence of these milliseconds
// alone.
func TestNewIDAtSortsWithinItsMillisecond(t *testing.T) {
	t.Parallel()
	base := time.Date(2199, 3, 4, 5, 6, 7, 0, time.UTC)
	for n, step := range []time.Duration{10 * time.Microsecond, time.Microsecond, 100 * time.Nanosecond, 0} {
		at := base.Add(time.Duration(n) * time.Minute) // a millisecond of its own, later than the last
		var ids []string
		for i := range 1000 {
			when := at.Add(time.Duration(i) * step)
			if when.UnixMilli() != at.UnixMilli() {
				break
			}
			id := engine.NewIDAt(when)
			u := uuid.MustParse(id)
			require.EqualValues(t, 7, u.Version())
			require.Equal(t, "RFC4122", u.Variant().String())
			require.GreaterOrEqual(t, id, idFloor(when).String(), "of its millisecond")
			require.Less(t, id, idFloor(when.Add(time.Millisecond)).String(), "of its millisecond")
			ids = append(ids, id)
		}
		require.Greater(t, len(ids), 50, step)
		for i := 1; i < len(ids); i++ {
			require.Less(t, ids[i-1], ids[i], "step %s: id %d", step, i)
		}
	}
}
