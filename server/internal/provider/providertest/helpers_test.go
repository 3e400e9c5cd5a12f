package providertest_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
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

	at := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	require.Equal(t, at, providertest.NewClockAt(at).Now())
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

// TestRecordingListener: with no Receive and no limit, a listener records every POST as it
// came, whatever its size; SetAnswer answers by the POST's number.
func TestRecordingListener(t *testing.T) {
	t.Parallel()
	l := providertest.NewListener(t, "/hook", 0, nil)
	l.SetAnswer(func(n int) int {
		if n == 1 {
			return http.StatusOK
		}
		return http.StatusBadGateway
	})
	hc := providertest.HTTPClient(t)
	big := bytes.Repeat([]byte("x"), 2<<20)
	for _, body := range [][]byte{[]byte("first"), big, []byte("third")} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, l.URL, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-Len", strconv.Itoa(len(body)))
		providertest.Try(hc, req)
	}
	posts := l.Posts()
	require.Len(t, posts, 3)
	require.Equal(t, []int{http.StatusBadGateway, http.StatusOK, http.StatusBadGateway}, []int{posts[0].Status, posts[1].Status, posts[2].Status})
	require.Equal(t, "first", string(posts[0].Body))
	require.Equal(t, big, posts[1].Body)
	require.Equal(t, strconv.Itoa(len(big)), posts[1].Header.Get("X-Len"))
	for _, p := range posts {
		require.NoError(t, p.Err)
		require.Zero(t, p.Event)
	}
	evs, errs := l.Received()
	require.Len(t, evs, 3)
	require.Empty(t, errs)
}

// TestDoTryAndSend: Do reads a whole answer; Try and Send report a status or the error that
// left a request unanswered, Send from a goroutine of its own.
func TestDoTryAndSend(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"x1","n":2}`))
		case "/held":
			<-release
			w.WriteHeader(http.StatusAccepted)
		case "/drop":
			panic(http.ErrAbortHandler)
		}
	}))
	t.Cleanup(srv.Close)
	hc := providertest.HTTPClient(t)
	get := func(ctx context.Context, path string) *http.Request {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		return req
	}

	resp := providertest.Do(t, hc, get(t.Context(), "/json"))
	require.Equal(t, http.StatusOK, resp.Status)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Equal(t, map[string]any{"id": "x1", "n": float64(2)}, resp.JSON(t))

	require.Equal(t, providertest.Answer{Status: http.StatusOK}, providertest.Try(hc, get(t.Context(), "/json")))
	require.Error(t, providertest.Try(hc, get(t.Context(), "/drop")).Err, "no answer")

	held := providertest.Send(hc, get(t.Context(), "/held"))
	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := providertest.Send(hc, get(ctx, "/held"))
	cancel()
	require.ErrorIs(t, (<-gaveUp).Err, context.Canceled)
	require.Empty(t, held, "still held")
	close(release)
	require.Equal(t, providertest.Answer{Status: http.StatusAccepted}, <-held)
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
