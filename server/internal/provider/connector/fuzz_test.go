package connector_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/provider/connector"
	"github.com/flowhook/flowhook/server/internal/provider/connector/connectorfake"
	swh "github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// FuzzAuthenticate: the plugin's check of a callback never panics; a callback signed the way
// the connector fake signs, with the current secret or, during a rotation, the previous one,
// is accepted exactly when its webhook-id is usable and its timestamp within the tolerance; a
// byte more in the body, another webhook-id, a changed signature or the signing secret removed
// is refused; its reason and note come from a fixed vocabulary, so they never quote a secret
// or a signature.
func FuzzAuthenticate(f *testing.F) {
	for _, d := range fakeDeliveries(f) {
		f.Add(d.Body, d.WebhookID, int64(0), false, uint16(7))
	}
	f.Add([]byte(`{}`), "msg_1", int64(300), true, uint16(0))
	f.Add([]byte(`{}`), "msg_1", int64(-301), false, uint16(3))
	f.Add([]byte(nil), " ", int64(0), false, uint16(0))
	f.Add([]byte(`{"type":"x"}`), strings.Repeat("i", swh.MaxHeaderLen+1), int64(0), true, uint16(1))
	const (
		mismatch = "signature mismatch"
		missing  = "missing webhook-id, webhook-timestamp or webhook-signature"
		bad      = "malformed webhook headers"
		stale    = "webhook-timestamp outside the 5-minute tolerance"
	)
	reasons := []string{"", "no signing secret configured", missing, bad, "malformed webhook-timestamp", stale, mismatch}
	notes := []string{"the Standard Webhooks signature matches one of the  secret(s) accepted now"}
	for _, r := range reasons[1:] {
		notes = append(notes, "Standard Webhooks: "+strings.Map(dropDigits, r)+" ( secret(s) accepted now,  signature(s) sent)")
	}
	now := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	plugin := connector.Plugin{}
	f.Fuzz(func(t *testing.T, body []byte, id string, skew int64, rotated bool, flip uint16) {
		skew %= 1e6
		signer, creds, without := secretCurrent, []string{secretCurrent}, []string{secretOther}
		if rotated {
			signer, creds, without = secretOther, []string{secretCurrent, secretOther}, []string{secretCurrent}
		}
		h := http.Header{}
		if err := swh.SetHeaders(h, []string{signer}, id, now.Add(time.Duration(skew)*time.Second), body); err != nil {
			require.Empty(t, id)
			require.ErrorIs(t, err, swh.ErrMissingHeaders)
			return
		}
		reason := func(body []byte, h http.Header, creds []string) string {
			t.Helper()
			a := plugin.Authenticate(body, h, creds, now)
			require.Equal(t, a.Reason == "", a.OK)
			require.Contains(t, reasons, a.Reason)
			require.Contains(t, notes, strings.Map(dropDigits, a.Note), "a note outside the vocabulary: %q", a.Note)
			return a.Reason
		}
		want := ""
		switch {
		case strings.TrimSpace(id) == "":
			want = missing
		case len(id) > swh.MaxHeaderLen:
			want = bad
		case skew > 300 || skew < -300:
			want = stale
		}
		require.Equal(t, want, reason(body, h, creds))
		if want != "" {
			return
		}
		require.Equal(t, mismatch, reason(append(body[:len(body):len(body)], 'x'), h, creds), "a byte more in the body")
		require.Equal(t, mismatch, reason(body, h, without), "the signing secret removed")
		if len(id) < swh.MaxHeaderLen { // one byte more is still a header Verify reads
			other := h.Clone()
			other.Set(swh.HeaderID, id+"x")
			require.Equal(t, mismatch, reason(body, other, creds), "another webhook-id")
		}
		changed := h.Clone()
		sig := []byte(h.Get(swh.HeaderSignature))
		i := len("v1,") + int(flip)%(len(sig)-len("v1,")-1) // the padding '=' stays
		sig[i] = "AB"[btoi(sig[i] == 'A')]
		changed.Set(swh.HeaderSignature, string(sig))
		require.Equal(t, mismatch, reason(body, changed, creds), "a changed signature")
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func dropDigits(r rune) rune {
	if unicode.IsDigit(r) {
		return -1
	}
	return r
}

// fakeDeliveries are the callbacks the connector fake posts, signed with secretCurrent, for
// tickets taken through every final type and a comment: fuzzing starts from the bodies and
// headers a connector's system sends.
func fakeDeliveries(tb testing.TB) []connectorfake.Delivery {
	tb.Helper()
	now := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	hook := providertest.NewListener(tb, "/webhooks/c2i/tickets", connector.MaxBody, nil)
	fake := connectorfake.New(connectorfake.Options{Secrets: []string{secretCurrent}, Now: func() time.Time { return now },
		HTTPClient: providertest.HTTPClient(tb)})
	ends := []func(id string) error{
		func(id string) error { return fake.Approve(id, "looks good") },
		func(id string) error { return fake.Reject(id, "Not with these terms — ünïcödé.") },
		fake.Resolve, fake.Delete, fake.Expire,
		func(id string) error { return fake.Comment(id, "a \"quoted\" comment") },
	}
	for i, end := range ends {
		body := fmt.Appendf(nil, `{"type":"workitem.create","timestamp":"2026-05-04T09:00:00Z","data":{"workItemId":"wi_%d",`+
			`"instanceId":"i","workflowId":"w","workflowVersion":1,"state":"S","formData":{},"callbackUrl":%q}}`, i, hook.URL)
		req := httptest.NewRequest(http.MethodPost, "/tickets", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("wi_%d", i))
		require.NoError(tb, swh.SetHeaders(req.Header, []string{secretCurrent}, fmt.Sprintf("msg_create_%d", i), now, body))
		w := httptest.NewRecorder()
		fake.Handler().ServeHTTP(w, req)
		require.Equal(tb, http.StatusCreated, w.Code, w.Body.String())
		require.NoError(tb, end(fmt.Sprintf("TCK-%d", i+1)))
	}
	ds := fake.Deliveries()
	require.Len(tb, ds, 2*len(ends), "ticket.created and one more event per ticket")
	for _, d := range ds {
		require.True(tb, d.OK())
		require.NoError(tb, swh.Verify([]string{secretCurrent}, d.Header, d.Body, now, 0))
	}
	return ds
}
