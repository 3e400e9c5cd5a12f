package onespan_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
	"github.com/flowhook/flowhook/server/internal/provider/onespan/onespanfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// FuzzParseEvent: ParseEvent never panics, fails only with ErrMalformedEvent, fills what it
// promises, is deterministic, gives the same event for the same body reformatted or
// re-encoded (refusing it only when that takes it over MaxEventSize), and gives a replay of
// the same fields the same dedupe key.
func FuzzParseEvent(f *testing.F) {
	seeds := providertest.Testdata(f, "events/*.json")
	for _, s := range []string{``, `{}`, `null`, `[]`, `{"name":"x","packageId":"y","createdDate":"2020-01-01T00:00:00Z"}`,
		`{"name":"x","packageId":"y","createdDate":"2020-01-01T00:00:00.5+01:00","message":null,"documentId":null,"@class":1}`,
		`{"name":"x","packageId":"y","createdDate":"2020-01-01T00:00:00Z","x":[[[[[[[[[]]]]]]]]]}`,
		`{"NAME":"x","PackageId":"y","createdDate":"2020-01-01T00:00:00Z"}`,
		`{"name":"x","name":"z","packageId":"y","createdDate":"2020-01-01T00:00:00Z"}`,
		`{"name":"x","packageId":"y","createdDate":"0001-01-01T00:00:00Z"}`, // Go's zero time: no time (found by fuzzing)
		"{\"name\":\"a<b>&c\",\"packageId\":\"y\",\"createdDate\":\"2020-01-01T00:00:00Z\",\"message\":\"x\u2028y\"}"} {
		seeds = append(seeds, []byte(s))
	}
	// A body at the size limit, which indenting or escaping takes over it.
	pad := `{"name":"x","packageId":"y","createdDate":"2020-01-01T00:00:00Z","pad":"`
	seeds = append(seeds, []byte(pad+strings.Repeat("&", onespan.MaxEventSize-len(pad)-2)+`"}`))
	for _, d := range fakeDeliveries(f) {
		seeds = append(seeds, d.Body)
	}
	providertest.FuzzParse(f, onespan.ParseEvent, system, []error{onespan.ErrMalformedEvent}, func(t *testing.T, body []byte, ev engine.InboundEvent) {
		require.LessOrEqual(t, len(ev.Type), 255)
		require.LessOrEqual(t, len(ev.ExternalID), 255)
		require.False(t, ev.OccurredAt.IsZero())

		// The same bytes reformatted (compacted, indented: every key kept, in its order) are
		// the same event, whatever they hold, unless reformatting takes them over the size
		// limit: a valid body is never refused for its layout.
		var compact, indented bytes.Buffer
		require.NoError(t, json.Compact(&compact, body))
		require.NoError(t, json.Indent(&indented, body, "", "\t"))
		requireSameEvent(t, ev, compact.Bytes(), "compacted", true)
		requireSameEvent(t, ev, indented.Bytes(), "indented", true)

		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(body, &m), "ParseEvent took it for a JSON object")
		// Keys that encoding/json folds to one of the event's fields (strings.EqualFold, as
		// encoding/json matches a name) are one field to it, the last one in the document
		// winning; re-encoding sorts the keys, which may change the winner: such a body has no
		// re-encoded twin (testdata/fuzz/FuzzParseEvent/cf34fd88ccb2538f).
		for _, field := range []string{"name", "sessionUser", "packageId", "message", "documentId", "createdDate"} {
			n := 0
			for k := range m {
				if strings.EqualFold(k, field) {
					n++
				}
			}
			if n > 1 {
				return
			}
		}
		// Decoded and encoded again (keys sorted, duplicates gone, strings escaped anew), it is
		// the same event.
		again, err := json.Marshal(m)
		require.NoError(t, err)
		requireSameEvent(t, ev, again, "re-encoded", true)
		// The same event re-encoded (a replay of the failure email's payload, reformatted)
		// keeps its key; @class and message do not take part in it (message is the reason,
		// which a key folding to "message" may still give).
		m["@class"] = json.RawMessage(`"com.silanis.esl.packages.event.ESLProcessEvent"`)
		m["message"] = json.RawMessage(`"replayed"`)
		resent, err := json.Marshal(m)
		require.NoError(t, err)
		requireSameEvent(t, ev, resent, "replayed", false)
	}, seeds...)
}

// requireSameEvent requires body, a reformatting of the body that gave ev, to give the same
// event (its reason aside unless withReason), unless it is over the size limit, where it
// must be refused.
func requireSameEvent(t *testing.T, ev engine.InboundEvent, body []byte, what string, withReason bool) {
	t.Helper()
	got, err := onespan.ParseEvent(body)
	if len(body) > onespan.MaxEventSize {
		require.ErrorIs(t, err, onespan.ErrMalformedEvent, "%s: %d bytes", what, len(body))
		return
	}
	require.NoError(t, err, "%s: a valid event refused: %s", what, body)
	if !withReason {
		got.Reason = ev.Reason
	}
	require.Equal(t, ev, got, "%s: %s", what, body)
}

// FuzzVerify: Verify never panics, accepts exactly the configured key behind a Basic scheme,
// and nothing else.
func FuzzVerify(f *testing.F) {
	f.Add("Basic cb-key-7f3a9c2e41d8", "cb-key-7f3a9c2e41d8")
	f.Add("basic  k ", "k")
	f.Add("Bearer k", "k")
	f.Add("Basic", "")
	f.Add("", "k")
	f.Add("Basic \x00", "\x00")
	for _, d := range fakeDeliveries(f)[:2] {
		f.Add(d.Header.Get("Authorization"), callbackKey)
	}
	f.Fuzz(func(t *testing.T, header, key string) {
		err := onespan.Verify(http.Header{"Authorization": {header}}, []string{key})
		if key == "" {
			require.ErrorIs(t, err, onespan.ErrNoKeys)
			return
		}
		v := strings.TrimSpace(header)
		i := strings.IndexAny(v, " \t")
		basic := i >= 0 && strings.EqualFold(v[:i], "Basic") && strings.Trim(v[i:], " \t") != ""
		switch {
		case !basic:
			require.ErrorIs(t, err, onespan.ErrNoCredentials)
		case strings.Trim(v[i:], " \t") == key:
			require.NoError(t, err)
		default:
			require.ErrorIs(t, err, onespan.ErrMismatch)
		}
	})
}

// FuzzAuthenticate: the plugin's check of a callback never panics; it accepts "Basic {key}",
// as the fake OneSpan sends it, for either key of a rotation, and agrees with Verify on any
// header; a key with a byte more, or behind another scheme, is refused; its reason and note
// come from a fixed vocabulary, so they never quote a key.
func FuzzAuthenticate(f *testing.F) {
	for _, d := range fakeDeliveries(f)[:2] {
		f.Add(d.Header.Get("Authorization"), callbackKey, callbackKeyOld)
	}
	f.Add("Basic  k\t", "k", "")
	f.Add("BASIC k", "", "k")
	f.Add("Bearer cb-key", "cb-key", "old")
	f.Add("", "", "")
	notes := []string{
		"the callback key matches one of the  accepted now (OneSpan signs no body: the package will be read back)",
		"callback key: no callback key configured ( key(s) accepted now)",
		"callback key: no Basic credentials ( key(s) accepted now)",
		"callback key: key mismatch ( key(s) accepted now)",
	}
	reasons := []string{"", "no callback key configured", "no Basic credentials", "key mismatch"}
	plugin := onespan.Plugin{}
	f.Fuzz(func(t *testing.T, header, key, old string) {
		auth := func(header string, keys ...string) engine.Authentication {
			t.Helper()
			h := http.Header{"Authorization": {header}}
			a := plugin.Authenticate([]byte(`{"name":"PACKAGE_COMPLETE"}`), h, keys, time.Time{})
			require.Equal(t, a.Reason == "", a.OK)
			require.Contains(t, reasons, a.Reason)
			require.Contains(t, notes, strings.Map(func(r rune) rune {
				if unicode.IsDigit(r) {
					return -1
				}
				return r
			}, a.Note), "a note outside the vocabulary: %q", a.Note)
			require.Equal(t, a.OK, onespan.Verify(h, keys) == nil, "Authenticate and Verify agree")
			return a
		}
		auth(header, key, old)
		if key == "" && old == "" {
			require.Equal(t, "no callback key configured", auth(header, key, old).Reason)
		}
		// The key as OneSpan sends it: only a key with no space around it, and not too long,
		// survives the header's trimming whole.
		if key == "" || key != strings.TrimSpace(key) || strings.ContainsAny(key, "\r\n") || len(key) > 4096 {
			return
		}
		require.True(t, auth("Basic "+key, key, old).OK)
		require.True(t, auth("basic\t"+key+" ", old, key).OK, "either key of a rotation, any case of the scheme")
		require.Equal(t, key+"x" == old, auth("Basic "+key+"x", key, old).OK, "a byte more is another key")
		if key != old+"x" {
			require.Equal(t, "key mismatch", auth("Basic "+key, old+"x").Reason, "a removed key is refused")
		}
		require.Equal(t, "no Basic credentials", auth("Bearer "+key, key, old).Reason)
	})
}

// fakeDeliveries are the callbacks the fake OneSpan posts, with the key it was registered
// with, for packages taken through every ending (completed, declined, opted out, expired,
// trashed): fuzzing starts from the bodies and headers OneSpan sends.
func fakeDeliveries(tb testing.TB) []onespanfake.Delivery {
	tb.Helper()
	clock := providertest.NewClock()
	hook := providertest.NewListener(tb, "/webhooks/OneSpan", onespan.MaxEventSize, nil)
	fake := onespanfake.New(onespanfake.Options{APIKey: apiKey, CallbackURL: hook.URL, CallbackKey: callbackKey,
		CallbackEvents: onespanfake.KnownEvents, Now: clock.Now})
	url := fake.Start(tb)
	c, err := onespan.NewClient(onespan.Settings{BaseURL: url, APIKey: apiKey, CallbackKeys: []string{callbackKey}},
		providertest.HTTPClient(tb), clock.Now, onespan.WithWait((&providertest.WaitLog{}).Wait))
	require.NoError(tb, err)
	for i, end := range []func(id string) error{
		fake.Complete,
		func(id string) error { return fake.Decline(id, "Not with these terms — ünïcödé.") },
		func(id string) error { return fake.OptOut(id, "I will not sign electronically") },
		fake.Expire,
		fake.Trash,
	} {
		wi := "wi_fuzz_" + strconv.Itoa(i)
		id, err := c.Create(tb.Context(), engine.WorkItemRequest{WorkItemID: wi, InstanceID: "inst_" + wi, Subject: "Please sign: " + wi,
			Document: &engine.Document{Title: "Contract " + wi, ContentType: "application/pdf",
				Content: onespanfake.PDF("Contract for "+wi+" /sn1/", "Second page /sn2/")},
			Parties:     []engine.Party{{Name: "Ada Lovelace", Email: "ada@example.com", Anchor: "/sn1/"}},
			CallbackURL: hook.URL})
		require.NoError(tb, err)
		require.NoError(tb, end(id))
	}
	ds := fake.Deliveries()
	require.GreaterOrEqual(tb, len(ds), 10)
	for _, d := range ds {
		require.Equal(tb, "Basic "+callbackKey, d.Header.Get("Authorization"))
	}
	return ds
}
