package connector_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/connector"
	swh "github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
)

// callbackBody is a callback of the connector protocol.
func callbackBody(typ, timestamp, id, reason string) string {
	return fmt.Sprintf(`{"type":%q,"timestamp":%q,"data":{"id":%q,"reason":%q}}`, typ, timestamp, id, reason)
}

// withID is a header carrying webhook-id, as a callback's request has it.
func withID(id string) http.Header {
	h := http.Header{}
	h.Set(swh.HeaderID, id)
	return h
}

// parsed is the event ParseEvent is expected to return for a callback.
func parsed(typ, id, reason, key string, at time.Time) engine.InboundEvent {
	return engine.InboundEvent{System: engine.System{Provider: connector.Provider}, Type: typ, ExternalID: id,
		DedupeKey: key, OccurredAt: at, Status: typ, Reason: reason}
}

func TestParseEvent(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		body   string
		header http.Header
		want   engine.InboundEvent
	}{
		{
			name:   "a full callback",
			body:   callbackBody("ticket.resolved", "2026-05-04T09:00:00Z", "TCK-1", "fixed in 2.3"),
			header: withID("msg_1"),
			want:   parsed("ticket.resolved", "TCK-1", "fixed in 2.3", "msg_1", at),
		},
		{
			name:   "a timestamp with a fraction and an offset is read as UTC",
			body:   callbackBody("ticket.resolved", "2026-05-04T11:00:00.123456789+02:00", "TCK-1", ""),
			header: withID("msg_1"),
			want:   parsed("ticket.resolved", "TCK-1", "", "msg_1", at.Add(123456789*time.Nanosecond)),
		},
		{
			name:   "a timestamp with milliseconds",
			body:   callbackBody("ticket.resolved", "2026-05-04T09:00:00.5Z", "TCK-1", ""),
			header: withID("msg_1"),
			want:   parsed("ticket.resolved", "TCK-1", "", "msg_1", at.Add(500*time.Millisecond)),
		},
		{
			name:   "a timestamp west of UTC",
			body:   callbackBody("ticket.resolved", "2026-05-04T04:00:00-05:00", "TCK-1", ""),
			header: withID("msg_1"),
			want:   parsed("ticket.resolved", "TCK-1", "", "msg_1", at),
		},
		{
			name:   "no timestamp: no time",
			body:   `{"type":"ticket.created","data":{"id":"TCK-1"}}`,
			header: withID("msg_1"),
			want:   parsed("ticket.created", "TCK-1", "", "msg_1", time.Time{}),
		},
		{
			name:   "a garbled timestamp: no time",
			body:   callbackBody("ticket.created", "yesterday at noon", "TCK-1", ""),
			header: withID("msg_1"),
			want:   parsed("ticket.created", "TCK-1", "", "msg_1", time.Time{}),
		},
		{
			name:   "a timestamp without its zone: no time",
			body:   callbackBody("ticket.created", "2026-05-04T09:00:00", "TCK-1", ""),
			header: withID("msg_1"),
			want:   parsed("ticket.created", "TCK-1", "", "msg_1", time.Time{}),
		},
		{
			name:   "a date only: no time",
			body:   callbackBody("ticket.created", "2026-05-04", "TCK-1", ""),
			header: withID("msg_1"),
			want:   parsed("ticket.created", "TCK-1", "", "msg_1", time.Time{}),
		},
		{
			name:   "a null timestamp: no time",
			body:   `{"type":"ticket.created","timestamp":null,"data":{"id":"TCK-1"}}`,
			header: withID("msg_1"),
			want:   parsed("ticket.created", "TCK-1", "", "msg_1", time.Time{}),
		},
		{
			name: "unknown fields are ignored, at the top and in data",
			body: `{"type":"ticket.commented","version":2,"meta":{"a":[1,2,{"b":null}]},"timestamp":"2026-05-04T09:00:00Z",` +
				`"data":{"id":"TCK-9","reason":"","comment":{"by":"ann","text":"hi"},"tags":["x"]}}`,
			header: withID("msg_2"),
			want:   parsed("ticket.commented", "TCK-9", "", "msg_2", at),
		},
		{
			name:   "white space around the object",
			body:   " \r\n\t" + callbackBody("ticket.created", "2026-05-04T09:00:00Z", "TCK-1", "") + "\n ",
			header: withID("msg_1"),
			want:   parsed("ticket.created", "TCK-1", "", "msg_1", at),
		},
		{
			name:   "a nil header (a stored body read again): no dedupe key",
			body:   callbackBody("ticket.resolved", "2026-05-04T09:00:00Z", "TCK-1", ""),
			header: nil,
			want:   parsed("ticket.resolved", "TCK-1", "", "", at),
		},
		{
			name:   "a header without webhook-id: no dedupe key",
			body:   callbackBody("ticket.resolved", "2026-05-04T09:00:00Z", "TCK-1", ""),
			header: http.Header{"Content-Type": {"application/json"}},
			want:   parsed("ticket.resolved", "TCK-1", "", "", at),
		},
		{
			name:   "the dedupe key is the Webhook-Id header as net/http spells it",
			body:   callbackBody("ticket.resolved", "2026-05-04T09:00:00Z", "TCK-1", ""),
			header: http.Header{"Webhook-Id": {"msg_Zx9"}, "Webhook-Timestamp": {"1777885200"}},
			want:   parsed("ticket.resolved", "TCK-1", "", "msg_Zx9", at),
		},
		{
			name:   "a type of exactly the longest length",
			body:   callbackBody(strings.Repeat("t", engine.MaxEventTypeLen), "", "TCK-1", ""),
			header: withID("msg_1"),
			want:   parsed(strings.Repeat("t", engine.MaxEventTypeLen), "TCK-1", "", "msg_1", time.Time{}),
		},
		{
			name:   "an id of exactly 255 characters",
			body:   callbackBody("ticket.created", "", strings.Repeat("i", 255), ""),
			header: withID("msg_1"),
			want:   parsed("ticket.created", strings.Repeat("i", 255), "", "msg_1", time.Time{}),
		},
		{
			name:   "type and id are kept as sent, spaces and all",
			body:   callbackBody(" ticket.created ", "", " TCK 1 ", "  why  "),
			header: withID("msg_1"),
			want:   parsed(" ticket.created ", " TCK 1 ", "  why  ", "msg_1", time.Time{}),
		},
		{
			name:   "JSON escapes are decoded",
			body:   `{"type":"ticket.r\u00e9solu","data":{"id":"TCK\/1","reason":"caf\u00e9 \"noir\""}}`,
			header: withID("msg_1"),
			want:   parsed("ticket.résolu", "TCK/1", `café "noir"`, "msg_1", time.Time{}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev, err := connector.ParseEvent([]byte(tc.body), tc.header)
			require.NoError(t, err)
			require.Equal(t, tc.want, ev)
			if !ev.OccurredAt.IsZero() {
				require.Equal(t, time.UTC, ev.OccurredAt.Location())
			}
			// The plugin parses the same way.
			ev2, err := connector.Plugin{}.ParseEvent([]byte(tc.body), tc.header)
			require.NoError(t, err)
			require.Equal(t, ev, ev2)
		})
	}
}

func TestParseEventRefusals(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name string
		body string
		want error
	}{
		{"an empty body", ``, connector.ErrMalformedEvent},
		{"only white space", " \n\t ", connector.ErrMalformedEvent},
		{"not JSON", `type=ticket.created&id=TCK-1`, connector.ErrMalformedEvent},
		{"HTML", `<html><body>hello</body></html>`, connector.ErrMalformedEvent},
		{"a truncated object", `{"type":"ticket.created","data":{"id":"TCK-1"}`, connector.ErrMalformedEvent},
		{"an object followed by more", `{"type":"ticket.created","data":{"id":"TCK-1"}} {}`, connector.ErrMalformedEvent},
		{"an object followed by garbage", `{"type":"ticket.created","data":{"id":"TCK-1"}}x`, connector.ErrMalformedEvent},
		{"null", `null`, connector.ErrMalformedEvent},
		{"an array of a callback", `[{"type":"ticket.created","data":{"id":"TCK-1"}}]`, connector.ErrMalformedEvent},
		{"an empty array", `[]`, connector.ErrMalformedEvent},
		{"a string", `"ticket.created"`, connector.ErrMalformedEvent},
		{"a number", `42`, connector.ErrMalformedEvent},
		{"true", `true`, connector.ErrMalformedEvent},
		{"a byte-order mark before the object", "\ufeff" + `{"type":"ticket.created","data":{"id":"TCK-1"}}`, connector.ErrMalformedEvent},
		{"a type that is a number", `{"type":5,"data":{"id":"TCK-1"}}`, connector.ErrMalformedEvent},
		{"a type that is an object", `{"type":{"name":"x"},"data":{"id":"TCK-1"}}`, connector.ErrMalformedEvent},
		{"data a string", `{"type":"ticket.created","data":"TCK-1"}`, connector.ErrMalformedEvent},
		{"data an array", `{"type":"ticket.created","data":[{"id":"TCK-1"}]}`, connector.ErrMalformedEvent},
		{"data a number", `{"type":"ticket.created","data":1}`, connector.ErrMalformedEvent},
		{"data.id a number", `{"type":"ticket.created","data":{"id":42}}`, connector.ErrMalformedEvent},
		{"data.reason an object", `{"type":"ticket.created","data":{"id":"TCK-1","reason":{"code":1}}}`, connector.ErrMalformedEvent},
		// The protocol's fields have their JSON types: a timestamp in Unix seconds is not a
		// garbled time but a body of another protocol.
		{"a timestamp that is a number", `{"type":"ticket.created","timestamp":1777885200,"data":{"id":"TCK-1"}}`, connector.ErrMalformedEvent},
		{"an empty object", `{}`, connector.ErrMissingType},
		{"no type", `{"data":{"id":"TCK-1"}}`, connector.ErrMissingType},
		{"a null type", `{"type":null,"data":{"id":"TCK-1"}}`, connector.ErrMissingType},
		{"an empty type", `{"type":"","data":{"id":"TCK-1"}}`, connector.ErrMissingType},
		{"a blank type", `{"type":" \t\n","data":{"id":"TCK-1"}}`, connector.ErrMissingType},
		{"no type and no id: the type is reported", `{"data":{}}`, connector.ErrMissingType},
		{"a type one longer than the limit", callbackBody(long(engine.MaxEventTypeLen+1), "", "TCK-1", ""), connector.ErrBadType},
		{"a type of multi-byte characters over the limit in bytes", callbackBody(strings.Repeat("é", engine.MaxEventTypeLen/2+1), "", "TCK-1", ""), connector.ErrBadType},
		{"a long type and no id: the type is reported", `{"type":"` + long(engine.MaxEventTypeLen+1) + `"}`, connector.ErrBadType},
		{"no data", `{"type":"ticket.created"}`, connector.ErrMissingID},
		{"null data", `{"type":"ticket.created","data":null}`, connector.ErrMissingID},
		{"empty data", `{"type":"ticket.created","data":{}}`, connector.ErrMissingID},
		{"a null id", `{"type":"ticket.created","data":{"id":null}}`, connector.ErrMissingID},
		{"an empty id", `{"type":"ticket.created","data":{"id":""}}`, connector.ErrMissingID},
		{"a blank id", `{"type":"ticket.created","data":{"id":"  \t"}}`, connector.ErrMissingID},
		{"an id at the top instead of in data", `{"type":"ticket.created","id":"TCK-1"}`, connector.ErrMissingID},
		{"an id one longer than 255", callbackBody("ticket.created", "", long(256), ""), connector.ErrBadID},
		{"a very long id", callbackBody("ticket.created", "", long(10_000), ""), connector.ErrBadID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev, err := connector.ParseEvent([]byte(tc.body), withID("msg_1"))
			require.ErrorIs(t, err, tc.want)
			require.Equal(t, engine.InboundEvent{}, ev, "an error comes with no event")
		})
	}
}

func TestParseEventReason(t *testing.T) {
	t.Parallel()
	const ellipsis = "…"
	tests := []struct {
		name   string
		reason string
		want   string
	}{
		{"empty", "", ""},
		{"short", "duplicate of TCK-7", "duplicate of TCK-7"},
		{"exactly 1000 bytes is kept whole", strings.Repeat("a", 1000), strings.Repeat("a", 1000)},
		{"1001 bytes is cut at 1000", strings.Repeat("a", 1001), strings.Repeat("a", 1000) + ellipsis},
		{"a two-byte character across the cut is dropped whole", strings.Repeat("a", 999) + "é", strings.Repeat("a", 999) + ellipsis},
		{"a three-byte character across the cut is dropped whole", strings.Repeat("a", 998) + "€x", strings.Repeat("a", 998) + ellipsis},
		{"a four-byte character across the cut is dropped whole", strings.Repeat("a", 997) + "🎉", strings.Repeat("a", 997) + ellipsis},
		{"a four-byte character ending at the cut is kept", strings.Repeat("a", 996) + "🎉b", strings.Repeat("a", 996) + "🎉" + ellipsis},
		{"multi-byte characters only", strings.Repeat("€", 400), strings.Repeat("€", 333) + ellipsis},
		{"1000 bytes of multi-byte characters is kept whole", strings.Repeat("é", 500), strings.Repeat("é", 500)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev, err := connector.ParseEvent([]byte(callbackBody("ticket.rejected", "", "TCK-1", tc.reason)), nil)
			require.NoError(t, err)
			require.Equal(t, tc.want, ev.Reason)
			require.True(t, utf8.ValidString(ev.Reason))
			require.LessOrEqual(t, len(strings.TrimSuffix(ev.Reason, ellipsis)), 1000)
		})
	}
}

// FuzzParseEvent: whatever a connector's system posts, ParseEvent never panics, refuses with
// one of its sentinels and no event, or returns an event that keeps the package's limits and is
// the same when the same bytes are parsed again.
func FuzzParseEvent(f *testing.F) {
	for _, body := range []string{
		callbackBody("ticket.resolved", "2026-05-04T09:00:00Z", "TCK-1", "fixed"),
		callbackBody("ticket.resolved", "2026-05-04T11:00:00.123456789+02:00", "TCK-1", strings.Repeat("é", 600)),
		`{"type":"ticket.created","data":{"id":"TCK-1"},"extra":[1,{"a":null}]}`,
		`{"type":"x","timestamp":"yesterday","data":{"id":"y","reason":null}}`,
		`{"TYPE":"x","Data":{"ID":"y"}}`,
		`{"type":"a","type":"b","data":{"id":"1","id":"2"}}`,
		``, `null`, `[]`, `{}`, `"x"`, `{"type":" "}`, `{"type":"x","data":"y"}`, `{"type":"x","data":{"id":42}}`,
		`{"type":"x","data":{"id":" "}}`, `{"type":"x","timestamp":1,"data":{"id":"y"}}`,
		callbackBody(strings.Repeat("t", engine.MaxEventTypeLen+1), "", "y", ""),
		callbackBody("x", "", strings.Repeat("i", 256), ""),
		"\ufeff{}", `{"type":"\ud800","data":{"id":"\udfff"}}`, "{\"type\":\"\xff\",\"data\":{\"id\":\"\xfe\"}}",
	} {
		f.Add([]byte(body), "msg_1")
	}
	f.Add([]byte(callbackBody("ticket.created", "", "TCK-1", "")), "")
	for _, d := range fakeDeliveries(f) { // the connector fake's callbacks (fuzz_test.go)
		f.Add(d.Body, d.WebhookID)
	}
	sentinels := []error{connector.ErrMalformedEvent, connector.ErrMissingType, connector.ErrMissingID, connector.ErrBadType, connector.ErrBadID}
	f.Fuzz(func(t *testing.T, body []byte, webhookID string) {
		h := http.Header{}
		h.Set(swh.HeaderID, webhookID)
		ev, err := connector.ParseEvent(body, h)
		if err != nil {
			require.True(t, slices.ContainsFunc(sentinels, func(e error) bool { return errors.Is(err, e) }), "unexpected error %v", err)
			require.Equal(t, engine.InboundEvent{}, ev, "an error comes with no event")
			_, err2 := connector.ParseEvent(body, nil)
			require.Equal(t, err, err2, "the header does not change a refusal")
			return
		}
		require.Equal(t, engine.System{Provider: connector.Provider}, ev.System)
		require.NotEmpty(t, strings.TrimSpace(ev.Type))
		require.LessOrEqual(t, len(ev.Type), engine.MaxEventTypeLen)
		require.NotEmpty(t, strings.TrimSpace(ev.ExternalID))
		require.LessOrEqual(t, len(ev.ExternalID), 255)
		require.Equal(t, ev.Type, ev.Status)
		require.Equal(t, h.Get(swh.HeaderID), ev.DedupeKey)
		require.Empty(t, ev.WorkItemID)
		require.True(t, utf8.ValidString(ev.Reason), "the reason is UTF-8")
		require.LessOrEqual(t, len(strings.TrimSuffix(ev.Reason, "…")), 1000)
		if !ev.OccurredAt.IsZero() {
			require.Equal(t, time.UTC, ev.OccurredAt.Location())
		}

		again, err := connector.ParseEvent(body, h)
		require.NoError(t, err)
		require.Equal(t, ev, again, "parsing the same bytes again gives the same event")
		stored, err := connector.ParseEvent(body, nil)
		require.NoError(t, err)
		ev.DedupeKey = ""
		require.Equal(t, ev, stored, "a stored body read again is the same event but for its key")
	})
}
