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
	item       string // Item: "" unless set
	broken     bool   // Build fails
}

func (m *msg) Target() string { return m.url }
func (m *msg) Event() string  { return m.event }
func (m *msg) Item() string   { return m.item }
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

// TestReorderItem: one item's messages are held while the others go out, then posted newest
// first and each once (duplicates included); the item's later messages go at once again.
func TestReorderItem(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := newSender(t, nil)
	s.SetDuplicates(2)
	progress, outcome := &msg{url: b.hook.URL, event: "progress", item: "x"}, &msg{url: b.hook.URL, event: "outcome", item: "x"}
	other := &msg{url: b.hook.URL, event: "other", item: "y"}
	late := &msg{url: b.hook.URL, event: "late", item: "x"}

	held, ok := s.HeldItem("x")
	require.False(t, ok)
	require.Empty(t, held)
	require.Empty(t, s.ReleaseItem("x"), "an item not held: nothing")

	s.ReorderItem("x")
	s.Dispatch(progress)
	s.ReorderItem("x") // again: changes nothing
	s.Dispatch(other, outcome)
	require.Equal(t, []string{body("other", 0), body("other", 0)}, bodies(b.hook), "only the held item waits")
	held, ok = s.HeldItem("x")
	require.True(t, ok)
	require.Equal(t, []string{"progress", "outcome"}, held)

	require.Equal(t, []string{"outcome", "progress"}, s.ReleaseItem("x"))
	require.Equal(t, []string{body("other", 0), body("other", 0), body("outcome", 0), body("outcome", 0), body("progress", 0), body("progress", 0)},
		bodies(b.hook), "newest first, each with its duplicates")
	held, ok = s.HeldItem("x")
	require.False(t, ok)
	require.Empty(t, held)
	s.Dispatch(late)
	require.Len(t, b.hook.Posts(), 8, "released: later messages go at once")

	// Holding everything comes first, and takes what an item releases.
	s.ReorderItem("x")
	s.Dispatch(b.msgs["a"], progress) // b.msgs are of item ""
	s.HoldDeliveries(true)
	s.Dispatch(outcome)
	require.Equal(t, []string{"outcome"}, s.Held())
	require.Equal(t, []string{"progress"}, s.ReleaseItem("x"))
	require.Equal(t, []string{"outcome", "progress"}, s.Held())
	require.NoError(t, s.Flush())
	require.Len(t, b.hook.Posts(), 14)
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

// TestKeepRedeliver: a message whose attempt failed waits for Redeliver as well as having its
// failure email; later messages are not held behind it; a replay that succeeds delivers it;
// Redeliver sends the rest once, in order, and a failure there is no new email.
func TestKeepRedeliver(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.hook.SetAnswer(func(n int) int {
		if n < 3 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	keep := &fakehook.Keep[*msg]{}
	s := newSender(t, keep)
	s.Dispatch(b.msgs["a"], b.msgs["b"], b.msgs["c"], b.msgs["d"])
	require.Equal(t, []string{body("a", 0), body("b", 0), body("c", 0), body("d", 0)}, bodies(b.hook), "d is not held behind the failures")
	require.Equal(t, []string{"a", "b", "c"}, keep.Waiting())
	backlog := keep.Backlog()
	require.Len(t, backlog, 3)
	require.Equal(t, []uint64{1, 2, 3}, []uint64{backlog[0].Seq, backlog[1].Seq, backlog[2].Seq})
	require.True(t, backlog[0].Tried)

	_, err := keep.Replay(s, 1) // b's email, replayed by hand
	require.NoError(t, err)
	require.Equal(t, []string{"a", "c"}, keep.Waiting(), "a successful replay delivered b")

	b.hook.SetStatus(http.StatusBadGateway)
	ds := keep.Redeliver(s)
	require.Len(t, ds, 2, "every waiting message is tried")
	require.Equal(t, []string{"a", "c"}, keep.Waiting(), "failed again, in their places")
	require.Len(t, keep.Failed(), 3, "a failed resend is no new email")

	b.hook.SetStatus(http.StatusOK)
	ds = keep.Redeliver(s)
	require.Len(t, ds, 2)
	require.Equal(t, []string{"a", "c"}, []string{ds[0].Event, ds[1].Event})
	require.Equal(t, []int{2, 2}, []int{ds[0].Retry, ds[1].Retry})
	require.True(t, ds[0].OK())
	require.True(t, ds[1].OK())
	require.Empty(t, keep.Waiting())
	require.Empty(t, keep.Redeliver(s), "a second redeliver posts nothing")
	require.Len(t, b.hook.Posts(), 4+1+2+2)
}

// TestWaitKeepsOrder: a message that fails again during a redelivery goes back in its place,
// before one that failed after it, and Seq numbers messages in the order the policy got them
// (a flush's order, not the dispatch's).
func TestWaitKeepsOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	wait := &fakehook.Wait[*msg]{}
	s := newSender(t, wait)
	s.HoldDeliveries(true)
	s.Dispatch(b.msgs["a"], b.msgs["b"])
	b.hook.SetStatus(http.StatusServiceUnavailable)
	require.NoError(t, s.FlushReverse())
	require.Equal(t, []string{"b", "a"}, wait.Waiting(), "in the order they were let go")
	s.HoldDeliveries(false)

	// b fails again, a goes through; then c fails: b stays before c.
	b.hook.SetAnswer(func(n int) int {
		if n == 3 {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	ds := wait.Redeliver(s)
	require.Equal(t, []string{"b", "a"}, []string{ds[0].Event, ds[1].Event})
	require.Equal(t, []string{"b"}, wait.Waiting())
	s.Dispatch(b.msgs["c"])
	require.Equal(t, []string{"b", "c"}, wait.Waiting())
	backlog := wait.Backlog()
	require.Equal(t, 1, backlog[0].Retry)
	require.Equal(t, 0, backlog[1].Retry)

	b.hook.SetStatus(http.StatusOK)
	ds = wait.Redeliver(s)
	require.Equal(t, []string{"b", "c"}, []string{ds[0].Event, ds[1].Event})
	require.Empty(t, wait.Redeliver(s))
	require.Equal(t, []string{body("b", 0), body("a", 0), body("b", 1), body("a", 1), body("c", 0), body("b", 2), body("c", 1)}, bodies(b.hook))
}

func TestEvents(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"x", "y"}, fakehook.Events([]*fakehook.Outgoing[*msg]{{Message: &msg{event: "x"}}, {Message: &msg{event: "y"}}}))
	require.Empty(t, fakehook.Events[*msg](nil))
	orig := []*fakehook.Outgoing[*msg]{{Message: &msg{event: "x"}, Retry: 1}}
	copies := fakehook.Copies(orig)
	copies[0].Retry = 5
	require.Equal(t, 1, orig[0].Retry, "a copy is the caller's")
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
