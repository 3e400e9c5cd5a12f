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
