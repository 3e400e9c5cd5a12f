package engine_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// TestCleanInbound: what names a notification's item must be one-line UTF-8 (else it is
// unparseable, the part named); what the system says to people is mended, line feeds and tabs
// kept in a reason.
func TestCleanInbound(t *testing.T) {
	t.Parallel()
	ok := engine.InboundEvent{Type: "ticket.rejected", ExternalID: "TCK-1", DedupeKey: "msg_1", WorkItemID: "wi-1",
		Status: "rejected\x00", Reason: "line one\nline\ttwo\x1b[31m \xff"}
	got, err := engine.CleanInbound(ok)
	require.NoError(t, err)
	require.Equal(t, "rejected", got.Status)
	require.Equal(t, "line one\nline\ttwo[31m \uFFFD", got.Reason)
	require.Equal(t, ok.Type, got.Type)
	require.Equal(t, ok.ExternalID, got.ExternalID)

	for _, tc := range []struct {
		name string
		edit func(*engine.InboundEvent)
		msg  string
	}{
		{"NUL in the item id", func(e *engine.InboundEvent) { e.ExternalID = "TCK-\x00" }, "its item id holds the control character U+0000"},
		{"a line feed in the type", func(e *engine.InboundEvent) { e.Type = "ticket.\nrejected" }, "its event type holds the control character U+000A"},
		{"invalid UTF-8 in the dedupe key", func(e *engine.InboundEvent) { e.DedupeKey = "msg_\xff" }, "its dedupe key is not valid UTF-8"},
		{"ESC in our work item id", func(e *engine.InboundEvent) { e.WorkItemID = "wi-\x1b" }, "its work item id holds the control character U+001B"},
	} {
		ev := ok
		tc.edit(&ev)
		_, err := engine.CleanInbound(ev)
		require.EqualError(t, err, tc.msg, tc.name)
	}
	require.Equal(t, "plain", engine.CleanLine("plain"))
	require.Equal(t, "ab", engine.CleanLine("a\nb"))
	require.Equal(t, "a\nb", engine.CleanProse("a\nb\r"))
}
