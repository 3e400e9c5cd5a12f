package providertest_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestClockAndWaitLog(t *testing.T) {
	t.Parallel()
	c := providertest.NewClock()
	start := c.Now()
	require.Equal(t, time.Date(2026, 4, 29, 18, 0, 0, 0, time.UTC), start)
	c.Advance(90 * time.Second)
	require.Equal(t, start.Add(90*time.Second), c.Now())

	var w providertest.WaitLog
	require.Empty(t, w.Waits())
	require.NoError(t, w.Wait(t.Context(), time.Second))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, w.Wait(ctx, time.Hour), context.Canceled, "an ended context ends the wait, at once")
	waits := w.Waits()
	require.Equal(t, []time.Duration{time.Second, time.Hour}, waits)
	waits[0] = 0
	require.Equal(t, time.Second, w.Waits()[0], "Waits is a copy")
}

// TestListener: every POST is recorded; what Receive refuses is answered 401 and kept as an
// error; SetStatus and SetReceive change the answers that follow; a body above the limit is
// refused before Receive sees it.
func TestListener(t *testing.T) {
	t.Parallel()
	errNoKey := errors.New("no key")
	receive := func(key string) providertest.Receive {
		return func(body []byte, h http.Header) (engine.InboundEvent, error) {
			if h.Get("X-Key") != key {
				return engine.InboundEvent{}, errNoKey
			}
			return engine.InboundEvent{Type: string(body), ExternalID: "item"}, nil
		}
	}
	l := providertest.NewListener(t, "/webhooks/test", 16, receive("k1"))
	hc := providertest.HTTPClient(t)
	post := func(key, body string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, l.URL, bytes.NewReader([]byte(body)))
		require.NoError(t, err)
		req.Header.Set("X-Key", key)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode
	}
	cases := []struct {
		name   string
		setup  func()
		key    string
		body   string
		status int
	}{
		{"accepted", nil, "k1", "first", http.StatusOK},
		{"refused", nil, "k2", "second", http.StatusUnauthorized},
		{"accepted, answered 503", func() { l.SetStatus(http.StatusServiceUnavailable) }, "k1", "third", http.StatusServiceUnavailable},
		{"the key rotated", func() { l.SetStatus(http.StatusOK); l.SetReceive(receive("k2")) }, "k2", "fourth", http.StatusOK},
		{"the old key now refused", nil, "k1", "fifth", http.StatusUnauthorized},
		{"a body above the limit", nil, "k2", "a body of more than sixteen bytes", http.StatusUnauthorized},
	}
	for _, tc := range cases {
		if tc.setup != nil {
			tc.setup()
		}
		require.Equal(t, tc.status, post(tc.key, tc.body), tc.name)
	}
	posts := l.Posts()
	require.Len(t, posts, len(cases))
	for i, tc := range cases {
		require.Equal(t, tc.status, posts[i].Status, tc.name)
		require.Equal(t, tc.key, posts[i].Header.Get("X-Key"), tc.name)
		require.Equal(t, tc.status == http.StatusUnauthorized, posts[i].Err != nil, tc.name)
	}
	require.Equal(t, []string{"first", "third", "fourth"}, l.Types())
	evs, errs := l.Received()
	require.Len(t, evs, 3)
	require.Len(t, errs, 3)
	require.ErrorIs(t, errs[0], errNoKey)
	require.ErrorIs(t, errs[1], errNoKey)
	var tooLarge *http.MaxBytesError
	require.ErrorAs(t, errs[2], &tooLarge)
}

func TestRequireEventAndFriends(t *testing.T) {
	t.Parallel()
	sys := engine.System{Provider: "TEST"}
	key := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	parse := func(body []byte) (engine.InboundEvent, error) {
		return engine.InboundEvent{System: sys, Type: "done", ExternalID: string(body), DedupeKey: key}, nil
	}
	ev, err := parse([]byte("item-1"))
	require.NoError(t, err)
	providertest.RequireEvent(t, parse, sys, []byte("item-1"), ev)

	pe := &engine.ProviderError{System: sys, HTTPStatus: 429}
	require.Same(t, pe, providertest.RequireProviderError(t, errors.Join(errors.New("context"), pe), sys))
	require.Equal(t, []string{"a", "b[0]"}, providertest.ProblemPaths(t,
		engine.Invalid(engine.Problem{Path: "a", Message: "x"}, engine.Problem{Path: "b[0]", Message: "y"})))

	require.JSONEq(t, `{"b":2,"a":1}`, string(providertest.WithField(t, []byte(`{"a": 1}`), "b", 2)))
	providertest.RequireNoSecret(t, struct{ KeySet bool }{true}, "s3cret", "")
	require.Equal(t, time.Date(2026, 5, 1, 10, 0, 0, 500, time.UTC), providertest.Time(t, "2026-05-01T12:00:00.0000005+02:00").UTC())
}
