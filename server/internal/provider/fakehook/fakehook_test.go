package fakehook_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flowhook/flowhook/server/internal/provider/fakehook"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// msg is a test message: its body names the event and the retry it was built for.
type msg struct {
	url, event string
	broken     bool // Build fails
}

func (m *msg) Target() string { return m.url }
func (m *msg) Event() string  { return m.event }
func (m *msg) Build(retry int) ([]byte, http.Header, error) {
	if m.broken {
		return nil, nil, errors.New("cannot build")
	}
	h := http.Header{"X-Retry": {strconv.Itoa(retry)}, "x-spelled-as-sent": {"yes"}}
	return []byte(`{"event":"` + m.event + `","retry":` + strconv.Itoa(retry) + `}`), h, nil
}

// bodies are the bodies the listener received, in order.
func bodies(l *providertest.Listener) []string {
	var out []string
	for _, p := range l.Posts() {
		out = append(out, string(p.Body))
	}
	return out
}

type testBundle struct {
	hook *providertest.Listener
	msgs map[string]*msg
}

// setup returns a listener that answers 204 and messages a, b, c, d for it.
func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{hook: providertest.NewListener(t, "/hook", 0, nil), msgs: map[string]*msg{}}
	b.hook.SetStatus(http.StatusNoContent)
	for _, e := range []string{"a", "b", "c", "d"} {
		b.msgs[e] = &msg{url: b.hook.URL, event: e}
	}
	return b
}

func newSender(t *testing.T, p fakehook.Policy[*msg]) *fakehook.Sender[*msg] {
	t.Helper()
	return fakehook.New(fakehook.Options[*msg]{Client: providertest.HTTPClient(t), Timeout: 10 * time.Second, Policy: p})
}

func body(event string, retry int) string {
	return `{"event":"` + event + `","retry":` + strconv.Itoa(retry) + `}`
}

func TestDispatchPostsInOrderAndRecords(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := newSender(t, nil)
	s.Dispatch(b.msgs["a"], nil, b.msgs["b"])
	require.Equal(t, []string{body("a", 0), body("b", 0)}, bodies(b.hook), "nil messages are skipped")

	ds := s.Deliveries()
	require.Len(t, ds, 2)
	d := ds[0]
	require.Same(t, b.msgs["a"], d.Message)
	require.Equal(t, "a", d.Event)
	require.Equal(t, b.hook.URL, d.URL)
	require.Equal(t, http.StatusNoContent, d.StatusCode)
	require.True(t, d.OK())
	require.Empty(t, d.Err)
	require.Equal(t, body("a", 0), string(d.Body))
	require.Equal(t, []string{"yes"}, d.Header["x-spelled-as-sent"], "headers are recorded as the message spelled them")
	require.Equal(t, "yes", b.hook.Posts()[0].Header.Get("X-Spelled-As-Sent"))
	require.False(t, d.Repost)
}

func TestDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := newSender(t, nil)
	s.SetDuplicates(3)
	s.Dispatch(b.msgs["a"], b.msgs["b"])
	require.Equal(t, []string{body("a", 0), body("a", 0), body("a", 0), body("b", 0), body("b", 0), body("b", 0)}, bodies(b.hook))

	s.SetDuplicates(0) // means once
	require.Len(t, s.Attempt(&fakehook.Outgoing[*msg]{Message: b.msgs["c"]}), 1)
	require.Len(t, s.Deliveries(), 7)
}

func TestHoldAndFlush(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		flush func(s *fakehook.Sender[*msg]) error
		want  []string // events posted; nil with err
		err   string
	}{
		{"in order", func(s *fakehook.Sender[*msg]) error { return s.Flush() }, []string{"a", "b", "c"}, ""},
		{"reverse", func(s *fakehook.Sender[*msg]) error { return s.FlushReverse() }, []string{"c", "b", "a"}, ""},
		{"a permutation", func(s *fakehook.Sender[*msg]) error { return s.Flush(1, 2, 0) }, []string{"b", "c", "a"}, ""},
		{"too few indexes", func(s *fakehook.Sender[*msg]) error { return s.Flush(0, 1) }, nil, "flush order has 2 indexes for 3 held messages"},
		{"a repeated index", func(s *fakehook.Sender[*msg]) error { return s.Flush(0, 0, 1) }, nil, "flush order [0 0 1] is not a permutation of 0..2"},
		{"an index out of range", func(s *fakehook.Sender[*msg]) error { return s.Flush(0, 1, 3) }, nil, "not a permutation"},
		{"a negative index", func(s *fakehook.Sender[*msg]) error { return s.Flush(-1, 0, 1) }, nil, "not a permutation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			s := newSender(t, nil)
			s.HoldDeliveries(true)
			s.Dispatch(b.msgs["a"], b.msgs["b"])
			s.Dispatch(b.msgs["c"])
			require.Equal(t, []string{"a", "b", "c"}, s.Held())
			require.Empty(t, bodies(b.hook), "held, not posted")

			err := tc.flush(s)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.Equal(t, []string{"a", "b", "c"}, s.Held(), "a refused order keeps everything held")
				require.Empty(t, bodies(b.hook))
				return
			}
			require.NoError(t, err)
			require.Empty(t, s.Held())
			var got []string
			for _, d := range s.Deliveries() {
				got = append(got, d.Event)
			}
			require.Equal(t, tc.want, got)

			// Still holding: the next message waits; holding off lets new ones go at once.
			s.Dispatch(b.msgs["d"])
			require.Equal(t, []string{"d"}, s.Held())
			s.HoldDeliveries(false)
			s.Dispatch(b.msgs["a"])
			require.Equal(t, []string{"d"}, s.Held(), "held ones stay held")
			require.Len(t, s.Deliveries(), 4)
		})
	}
}

// TestFailuresAreRecorded: an error answer, an unreachable listener, a listener slower than
// the timeout and a message that cannot be built each leave a delivery that says so.
func TestFailuresAreRecorded(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices the client going away only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done() // answers only when the sender gives up
	}))
	t.Cleanup(stuck.Close)

	b := setup(t)
	b.hook.SetStatus(http.StatusServiceUnavailable)
	s := fakehook.New(fakehook.Options[*msg]{Client: providertest.HTTPClient(t), Timeout: 100 * time.Millisecond})
	s.Dispatch(b.msgs["a"], &msg{url: deadURL, event: "dead"}, &msg{url: stuck.URL, event: "slow"},
		&msg{url: b.hook.URL, event: "broken", broken: true}, &msg{url: "://nowhere", event: "bad url"})

	ds := s.Deliveries()
	require.Len(t, ds, 5)
	require.Equal(t, http.StatusServiceUnavailable, ds[0].StatusCode)
	require.Empty(t, ds[0].Err)
	for _, d := range ds[1:] {
		require.Zero(t, d.StatusCode, d.Event)
		require.NotEmpty(t, d.Err, d.Event)
		require.False(t, d.OK(), d.Event)
	}
	require.Contains(t, ds[2].Err, "deadline exceeded")
	require.Equal(t, "cannot build", ds[3].Err)
	require.Nil(t, ds[3].Body)
	require.Len(t, bodies(b.hook), 1, "a message that cannot be built is not posted")
}

// TestNewDefaults: a Sender of its own client, policy and name; Start serves a fake's handler
// and closes the client's connections at the end (goleak checks).
func TestNewDefaults(t *testing.T) {
	t.Parallel()
	s := fakehook.New(fakehook.Options[*msg]{})
	url := s.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	s.Dispatch(&msg{url: url, event: "a"})
	require.Equal(t, http.StatusAccepted, s.Deliveries()[0].StatusCode)
	require.EqualError(t, s.Flush(1), "fakehook: flush order has 1 indexes for 0 held messages")

	named := fakehook.New(fakehook.Options[*msg]{Name: "docusignfake"})
	require.EqualError(t, named.Flush(0), "docusignfake: flush order has 1 indexes for 0 held messages")
}

// TestKeep: every failed POST is kept, duplicates included, and a replay reposts its exact
// bytes and headers once; a replay's own failure is not kept.
func TestKeep(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.hook.SetAnswer(func(n int) int {
		if n == 1 {
			return http.StatusOK
		}
		return http.StatusBadGateway
	})
	keep := &fakehook.Keep[*msg]{}
	s := newSender(t, keep)
	s.SetDuplicates(2)
	s.Dispatch(b.msgs["a"], b.msgs["b"])
	failed := keep.Failed()
	require.Len(t, failed, 3, "a, then b twice; the second post of a was acknowledged")
	require.Equal(t, []string{"a", "b", "b"}, []string{failed[0].Event, failed[1].Event, failed[2].Event})

	b.hook.SetStatus(http.StatusOK)
	d, err := keep.Replay(s, 1)
	require.NoError(t, err)
	require.True(t, d.OK())
	require.True(t, d.Repost)
	require.Equal(t, failed[1].Body, d.Body)
	require.Equal(t, failed[1].Header, d.Header)
	posts := bodies(b.hook)
	require.Len(t, posts, 5, "one post, duplicates or not")
	require.Equal(t, body("b", 0), posts[4])

	b.hook.SetStatus(http.StatusInternalServerError)
	d, err = keep.Replay(s, 0)
	require.NoError(t, err)
	require.False(t, d.OK())
	require.Len(t, keep.Failed(), 3, "a failed replay is not kept again")
	_, err = keep.Replay(s, 3)
	require.EqualError(t, err, "fakehook: no failed delivery 3 (there are 3)")
	_, err = keep.Replay(s, -1)
	require.Error(t, err)
}

// TestWait: a message whose attempt failed waits; Redeliver builds it anew with its retry
// count raised, even while holding is on; one that fails again waits again.
func TestWait(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.hook.SetStatus(http.StatusServiceUnavailable)
	wait := &fakehook.Wait[*msg]{}
	s := newSender(t, wait)
	s.Dispatch(b.msgs["a"], b.msgs["b"])
	require.Equal(t, []string{"a", "b"}, wait.Waiting())

	ds := wait.Redeliver(s)
	require.Len(t, ds, 2)
	require.Equal(t, []string{"a", "b"}, wait.Waiting(), "failed again, waits again")

	b.hook.SetStatus(http.StatusOK)
	s.HoldDeliveries(true)
	ds = wait.Redeliver(s)
	require.Len(t, ds, 2, "a redelivery is not held")
	require.Empty(t, wait.Waiting())
	require.Equal(t, 2, ds[0].Retry)
	require.Equal(t, body("a", 2), string(ds[0].Body), "built anew for the retry")
	require.Equal(t, "2", ds[0].Header.Get("X-Retry"))
	require.Empty(t, wait.Redeliver(s))

	s.Dispatch(b.msgs["c"])
	require.Equal(t, []string{"c"}, s.Held())
	require.NoError(t, s.Flush())
	require.Empty(t, wait.Waiting())
}

func TestEvents(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"x", "y"}, fakehook.Events([]*fakehook.Outgoing[*msg]{{Message: &msg{event: "x"}}, {Message: &msg{event: "y"}}}))
	require.Empty(t, fakehook.Events[*msg](nil))
}

func TestRecorded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		status  int
	}{
		{"a status", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) }, http.StatusCreated},
		{"a body without a status", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hi")) }, http.StatusOK},
		{"the first status counts", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusConflict)
			w.WriteHeader(http.StatusOK)
		}, http.StatusConflict},
		{"an aborted answer", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }, 0},
		{"the connection is reachable", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("hi"))
			require.NoError(t, http.NewResponseController(w).Flush())
		}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []int
			h := fakehook.Recorded(tc.handler, func(r *http.Request, status int) {
				require.Equal(t, "/x", r.URL.Path)
				got = append(got, status)
			})
			func() {
				defer func() { _ = recover() }()
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
			}()
			require.Equal(t, []int{tc.status}, got)
		})
	}
}
