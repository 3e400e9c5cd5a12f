package docusign_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/docusign"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

// FuzzVerify: Verify never panics, always accepts the right signature in any of the headers
// it reads, and accepts nothing else.
func FuzzVerify(f *testing.F) {
	for _, b := range providertest.Testdata(f, "events/*.json") {
		f.Add(b, "hV2Cq3m5r0gXk9uT1yZbN4eW7sJpL6aDfQ8cR2vM0oE=", "bm9wZQ==", uint8(1))
	}
	for _, d := range fakeDeliveries(f) {
		f.Add(d.Body, hmacKeyOld, signature(d.Header, 2), uint8(2))
	}
	f.Add([]byte(""), "k", "", uint8(0))
	f.Add([]byte("what do ya want for nothing?"), "Jefe", "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=", uint8(3))
	f.Add([]byte("{}"), "", "  ", uint8(11))
	f.Fuzz(func(t *testing.T, body []byte, key, sig string, n uint8) {
		header := "X-DocuSign-Signature-" + strconv.Itoa(int(n))
		h := http.Header{header: {sig}}
		err := docusign.Verify(body, h, []string{key})
		switch {
		case key == "":
			require.ErrorIs(t, err, docusign.ErrNoKeys)
		case n < 1 || int(n) > docusign.MaxSignatures || strings.TrimSpace(sig) == "":
			require.ErrorIs(t, err, docusign.ErrNoSignature)
		case err == nil:
			require.Equal(t, docusignfake.Signature(body, key), strings.TrimSpace(sig), "accepted a signature that is not the HMAC")
		default:
			require.ErrorIs(t, err, docusign.ErrBadSignature)
		}
		if key == "" || n < 1 || int(n) > docusign.MaxSignatures {
			return
		}
		good := docusignfake.Signature(body, key)
		h.Set(header, good)
		require.NoError(t, docusign.Verify(body, h, []string{"another key", key}))
		require.ErrorIs(t, docusign.Verify(append(body[:len(body):len(body)], 'x'), h, []string{key}), docusign.ErrBadSignature)
	})
}

// FuzzParseEvent: ParseEvent never panics, fails only with its sentinels, fills what it
// promises, is deterministic, and gives a redelivery (another top-level retryCount) the same
// dedupe key.
func FuzzParseEvent(f *testing.F) {
	seeds := providertest.Testdata(f, "events/*.json")
	for _, s := range []string{``, `{}`, `null`, `[]`, `{"event":"x","data":{"envelopeId":"y"}}`,
		`{"event":"x","retryCount":"7","data":{"envelopeSummary":{"envelopeId":"z"}}}`,
		`{"event":"x","data":{"envelopeId":"y","envelopeSummary":{"recipients":{"signers":[{"declinedReason":"r"}]}}}}`,
		`{"event":"x","data":{"envelopeId":"y"},"retryCount":1e400}`} {
		seeds = append(seeds, []byte(s))
	}
	for _, d := range fakeDeliveries(f) {
		seeds = append(seeds, d.Body)
	}
	errs := []error{docusign.ErrMalformedEvent, docusign.ErrMissingEvent, docusign.ErrMissingEnvelopeID}
	providertest.FuzzParse(f, docusign.ParseEvent, system, errs, func(t *testing.T, body []byte, ev engine.InboundEvent) {
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil {
			return // valid for ParseEvent but not for a map (duplicate-key quirks): nothing more to check
		}
		m["retryCount"] = json.RawMessage(`9`)
		resent, err := json.Marshal(m)
		require.NoError(t, err)
		ev2, err := docusign.ParseEvent(resent)
		require.NoError(t, err)
		require.Equal(t, ev.DedupeKey, ev2.DedupeKey, "a redelivery must keep the dedupe key")
	}, seeds...)
}

// FuzzAuthenticate: the plugin's check of a Connect message never panics; it accepts exactly
// when one of the X-DocuSign-Signature-1…10 headers sent (any case of the name, next to junk in
// another) is the HMAC of the body under one of the keys (in any position of the list); a
// byte more in the body or the signing key removed is refused; its reason and note come from
// a fixed vocabulary, so they never quote a key or a signature.
func FuzzAuthenticate(f *testing.F) {
	for _, d := range fakeDeliveries(f) {
		f.Add(d.Body, hmacKey, hmacKeyOld, uint8(1), false, signature(d.Header, 2))
	}
	f.Add([]byte(`{}`), "k", "", uint8(10), true, "")
	f.Add([]byte(`{}`), "", "", uint8(1), false, "x")
	f.Add([]byte(``), "k", "k", uint8(11), false, "  ")
	f.Add([]byte(`{"event":"envelope-sent"}`), "", "other", uint8(0), true, "c2ln")
	notes := []string{
		"HMAC-SHA signature matches one of the  configured key(s)", // HMAC-SHA256, its digits dropped
		"HMAC: no HMAC key configured ( key(s) configured,  signature header(s) sent)",
		"HMAC: no signature header ( key(s) configured,  signature header(s) sent)",
		"HMAC: signature mismatch ( key(s) configured,  signature header(s) sent)",
	}
	reasons := []string{"", "no HMAC key configured", "no signature header", "signature mismatch"}
	plugin := docusign.Plugin{}
	f.Fuzz(func(t *testing.T, body []byte, key, other string, slot uint8, lower bool, junk string) {
		sig := docusignfake.Signature(body, key)
		name := "X-DocuSign-Signature-" + strconv.Itoa(int(slot))
		if lower {
			name = strings.ToLower(name)
		}
		h := http.Header{name: {sig}}
		// What the receiver may consider: the signature in a slot it reads, and junk in slot 1.
		var sent []string
		if slot >= 1 && int(slot) <= docusign.MaxSignatures {
			sent = append(sent, sig)
		}
		if slot != 1 {
			h["X-DocuSign-Signature-1"] = []string{junk}
			if j := strings.TrimSpace(junk); j != "" {
				sent = append(sent, j)
			}
		}
		// want is the oracle: the reason Authenticate must give ("" for accepted).
		want := func(body []byte, keys []string) string {
			configured := false
			for _, k := range keys {
				if k == "" {
					continue
				}
				configured = true
				for _, s := range sent {
					if s == docusignfake.Signature(body, k) {
						return ""
					}
				}
			}
			switch {
			case !configured:
				return "no HMAC key configured"
			case len(sent) == 0:
				return "no signature header"
			}
			return "signature mismatch"
		}
		check := func(body []byte, keys []string) {
			t.Helper()
			auth := plugin.Authenticate(body, h, keys, time.Time{})
			require.Equal(t, want(body, keys), auth.Reason)
			require.Equal(t, auth.Reason == "", auth.OK)
			require.Contains(t, reasons, auth.Reason)
			require.Contains(t, notes, strings.Map(dropDigits, auth.Note), "a note outside the vocabulary: %q", auth.Note)
			require.Equal(t, auth.OK, docusign.Verify(body, h, keys) == nil, "Authenticate and Verify agree")
		}
		check(body, []string{other, key})
		check(body, []string{key, other})
		check(append(body[:len(body):len(body)], 'x'), []string{other, key})
		check(body, []string{other})
		if key != "" && len(sent) > 0 && sent[0] == sig {
			require.True(t, plugin.Authenticate(body, h, []string{other, key}, time.Time{}).OK, "the right signature is accepted")
		}
	})
}

func dropDigits(r rune) rune {
	if unicode.IsDigit(r) {
		return -1
	}
	return r
}

// fakeDeliveries are the Connect messages the fake DocuSign posts, signed with two keys, for
// envelopes taken through every ending (completed by two signers, declined, voided, expired):
// fuzzing starts from the bodies and headers DocuSign sends.
func fakeDeliveries(tb testing.TB) []docusignfake.Delivery {
	tb.Helper()
	clock := providertest.NewClock()
	hook := providertest.NewListener(tb, "/webhooks/docusign", docusign.MaxBody, nil)
	fake := docusignfake.New(docusignfake.Options{HMACKeys: []string{hmacKey, hmacKeyOld}, Now: clock.Now})
	url := fake.Start(tb)
	c, err := docusign.NewClient(docusign.Settings{AccountID: fake.AccountID(), IntegrationKey: fake.IntegrationKey(),
		UserID: fake.UserID(), OAuthBaseURL: url, PrivateKeyPEM: pkcs1PEM(testKey()), HMACKeys: []string{hmacKey}},
		providertest.HTTPClient(tb), clock.Now, docusign.WithWait((&providertest.WaitLog{}).Wait))
	require.NoError(tb, err)
	parties := []engine.Party{{Name: "Ada Lovelace", Email: "ada@example.com", Anchor: "/sn1/"},
		{Name: "Grace Hopper", Email: "grace@example.com", Anchor: "/sn2/"}}
	for i, end := range []func(id string) error{
		fake.Complete,
		func(id string) error { return fake.Decline(id, "Not with these terms — ünïcödé.") },
		func(id string) error { return fake.Void(id, "superseded") },
		fake.Expire,
	} {
		wi := "wi_fuzz_" + strconv.Itoa(i)
		id, err := c.Create(tb.Context(), engine.WorkItemRequest{WorkItemID: wi, InstanceID: "inst_" + wi, Subject: "Please sign: " + wi,
			Document: &engine.Document{Title: "Contract " + wi, ContentType: "application/pdf", Content: docusignfake.PDF("Contract /sn1/ /sn2/")},
			Parties:  parties, CallbackURL: hook.URL})
		require.NoError(tb, err)
		require.NoError(tb, end(id))
	}
	ds := fake.Deliveries()
	require.GreaterOrEqual(tb, len(ds), 8)
	for _, d := range ds {
		require.NotEmpty(tb, signature(d.Header, 2), "the fake signs with both keys")
	}
	return ds
}

// signature is the n-th signature header as the fake spells it (DocuSign's case, which
// http.Header.Get does not find).
func signature(h http.Header, n int) string {
	for name, vs := range h {
		if strings.EqualFold(name, "X-DocuSign-Signature-"+strconv.Itoa(n)) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}
