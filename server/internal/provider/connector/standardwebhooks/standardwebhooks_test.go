package standardwebhooks_test

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	swh "github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
)

// The specification's published test vector.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTS     = 1614265330
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var specTime = time.Unix(specTS, 0)

func TestSpecVector(t *testing.T) {
	t.Parallel()
	sig, err := swh.Sign(specSecret, specID, specTime, []byte(specBody))
	require.NoError(t, err)
	require.Equal(t, specSig, sig)

	h := http.Header{}
	require.NoError(t, swh.SetHeaders(h, []string{specSecret}, specID, specTime, []byte(specBody)))
	require.Equal(t, specID, h.Get(swh.HeaderID))
	require.Equal(t, strconv.Itoa(specTS), h.Get(swh.HeaderTimestamp))
	require.Equal(t, specSig, h.Get(swh.HeaderSignature))
	require.NoError(t, swh.Verify([]string{specSecret}, h, []byte(specBody), specTime, 0))

	// The prefix is optional, as in the specification's libraries.
	require.NoError(t, swh.Verify([]string{strings.TrimPrefix(specSecret, swh.SecretPrefix)}, h, []byte(specBody), specTime, 0))
}

// specHeader is the vector's headers, as a receiver's http.Header holds them.
func specHeader() http.Header {
	return http.Header{
		"Webhook-Id":        {specID},
		"Webhook-Timestamp": {strconv.Itoa(specTS)},
		"Webhook-Signature": {specSig},
	}
}

// TestVerifyNegative: every way a message can fail, and the near misses that must pass.
func TestVerifyNegative(t *testing.T) {
	t.Parallel()
	other := swh.NewSecret()
	goodB64 := strings.TrimPrefix(specSig, "v1,")
	for _, tc := range []struct {
		name    string
		secrets []string
		edit    func(h http.Header)
		body    string
		now     time.Time
		tol     time.Duration
		want    error // nil: verifies
	}{
		{name: "valid"},
		{name: "missing id", edit: func(h http.Header) { h.Del(swh.HeaderID) }, want: swh.ErrMissingHeaders},
		{name: "missing timestamp", edit: func(h http.Header) { h.Del(swh.HeaderTimestamp) }, want: swh.ErrMissingHeaders},
		{name: "missing signature", edit: func(h http.Header) { h.Del(swh.HeaderSignature) }, want: swh.ErrMissingHeaders},
		{name: "empty id", edit: func(h http.Header) { h.Set(swh.HeaderID, "") }, want: swh.ErrMissingHeaders},
		{name: "empty signature", edit: func(h http.Header) { h.Set(swh.HeaderSignature, "") }, want: swh.ErrMissingHeaders},
		{name: "blank signature", edit: func(h http.Header) { h.Set(swh.HeaderSignature, "   ") }, want: swh.ErrMissingHeaders},
		{name: "truncated signature", edit: func(h http.Header) { h.Set(swh.HeaderSignature, specSig[:len(specSig)-4]) }, want: swh.ErrNoMatch},
		{name: "signature without version", edit: func(h http.Header) { h.Set(swh.HeaderSignature, goodB64) }, want: swh.ErrNoMatch},
		{name: "signature not base64", edit: func(h http.Header) { h.Set(swh.HeaderSignature, "v1,***") }, want: swh.ErrNoMatch},
		{name: "signature with other padding bits", edit: func(h http.Header) {
			// The last character before "=" carries two unused bits; lax base64 would accept it.
			h.Set(swh.HeaderSignature, specSig[:len(specSig)-2]+"F=")
		}, want: swh.ErrNoMatch},
		{name: "one flipped byte in the body", body: `{"test": 2432232315}`, want: swh.ErrNoMatch},
		{name: "one flipped byte in the id", edit: func(h http.Header) { h.Set(swh.HeaderID, specID[:len(specID)-1]+"l") }, want: swh.ErrNoMatch},
		{name: "one flipped byte in the timestamp", edit: func(h http.Header) { h.Set(swh.HeaderTimestamp, strconv.Itoa(specTS+1)) }, want: swh.ErrNoMatch},
		{name: "valid only as the third signature", edit: func(h http.Header) {
			h.Set(swh.HeaderSignature, "v1,bm9wZQ== v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32))+" "+specSig)
		}},
		{name: "valid only in a repeated header", edit: func(h http.Header) {
			h.Set(swh.HeaderSignature, "v1,bm9wZQ==")
			h.Add(swh.HeaderSignature, specSig)
		}},
		{name: "valid only past MaxSignatures", edit: func(h http.Header) {
			h.Set(swh.HeaderSignature, strings.Repeat("v1,bm9wZQ== ", swh.MaxSignatures)+specSig)
		}, want: swh.ErrNoMatch},
		{name: "v2 prefix ignored", edit: func(h http.Header) { h.Set(swh.HeaderSignature, "v2,"+goodB64) }, want: swh.ErrNoMatch},
		{name: "v1a prefix ignored", edit: func(h http.Header) { h.Set(swh.HeaderSignature, "v1a,"+goodB64) }, want: swh.ErrNoMatch},
		{name: "other versions around a v1", edit: func(h http.Header) { h.Set(swh.HeaderSignature, "v1a,abc v2,"+goodB64+" "+specSig) }},
		{name: "removed secret", secrets: []string{other}, want: swh.ErrNoMatch},
		{name: "no secrets", secrets: []string{}, want: swh.ErrNoSecrets},
		{name: "no usable secret", secrets: []string{"", "whsec_", "whsec_c2hvcnQ="}, want: swh.ErrNoSecrets},
		{name: "an unusable secret beside a good one", secrets: []string{"whsec_c2hvcnQ=", specSecret}},
		{name: "299 s old", now: specTime.Add(299 * time.Second)},
		{name: "300 s old", now: specTime.Add(300 * time.Second)},
		{name: "301 s old", now: specTime.Add(301 * time.Second), want: swh.ErrStale},
		{name: "299 s in the future", now: specTime.Add(-299 * time.Second)},
		{name: "301 s in the future", now: specTime.Add(-301 * time.Second), want: swh.ErrStale},
		{name: "a day old", now: specTime.Add(24 * time.Hour), want: swh.ErrStale},
		{name: "own tolerance", now: specTime.Add(11 * time.Second), tol: 10 * time.Second, want: swh.ErrStale},
		{name: "stale is checked before the signature", now: specTime.Add(time.Hour), secrets: []string{other}, want: swh.ErrStale},
		{name: "non-numeric timestamp", edit: func(h http.Header) { h.Set(swh.HeaderTimestamp, "yesterday") }, want: swh.ErrBadTimestamp},
		{name: "signed timestamp", edit: func(h http.Header) { h.Set(swh.HeaderTimestamp, "+"+strconv.Itoa(specTS)) }, want: swh.ErrBadTimestamp},
		{name: "negative timestamp", edit: func(h http.Header) { h.Set(swh.HeaderTimestamp, "-1") }, want: swh.ErrBadTimestamp},
		{name: "fractional timestamp", edit: func(h http.Header) { h.Set(swh.HeaderTimestamp, strconv.Itoa(specTS)+".5") }, want: swh.ErrBadTimestamp},
		{name: "timestamp in milliseconds", edit: func(h http.Header) { h.Set(swh.HeaderTimestamp, strconv.Itoa(specTS*1000)) }, want: swh.ErrStale},
		{name: "huge timestamp", edit: func(h http.Header) { h.Set(swh.HeaderTimestamp, strings.Repeat("9", 30)) }, want: swh.ErrBadTimestamp},
		{name: "repeated id", edit: func(h http.Header) { h.Add(swh.HeaderID, "msg_other") }, want: swh.ErrBadHeaders},
		{name: "overlong signature header", edit: func(h http.Header) {
			h.Set(swh.HeaderSignature, specSig+" "+strings.Repeat("v1a,x", swh.MaxHeaderLen))
		}, want: swh.ErrBadHeaders},
		{name: "header names in the specification's case", edit: func(h http.Header) {
			for _, n := range []string{swh.HeaderID, swh.HeaderTimestamp, swh.HeaderSignature} {
				v := h.Values(n)
				h.Del(n)
				h[n] = v
			}
		}},
		{name: "header names in upper case", edit: func(h http.Header) {
			for _, n := range []string{swh.HeaderID, swh.HeaderTimestamp, swh.HeaderSignature} {
				v := h.Values(n)
				h.Del(n)
				h[strings.ToUpper(n)] = v
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := specHeader()
			if tc.edit != nil {
				tc.edit(h)
			}
			secrets := []string{specSecret}
			if tc.secrets != nil {
				secrets = tc.secrets
			}
			body := specBody
			if tc.body != "" {
				body = tc.body
			}
			now := specTime
			if !tc.now.IsZero() {
				now = tc.now
			}
			err := swh.Verify(secrets, h, []byte(body), now, tc.tol)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			for _, secret := range append(secrets, specSecret, other) {
				if len(secret) > len(swh.SecretPrefix) {
					require.NotContains(t, err.Error(), strings.TrimPrefix(secret, swh.SecretPrefix), "an error quotes a secret")
				}
			}
			require.NotContains(t, err.Error(), goodB64, "an error quotes a signature")
		})
	}
}

// TestRotation: a sender signs with the old and the new secret while receivers move over; a
// receiver that knows both accepts either sender.
func TestRotation(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret, stranger := swh.NewSecret(), swh.NewSecret(), swh.NewSecret()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"type":"ticket.approved"}`)

	both := http.Header{}
	require.NoError(t, swh.SetHeaders(both, []string{oldSecret, newSecret}, "msg_1", now, body))
	require.Len(t, strings.Fields(both.Get(swh.HeaderSignature)), 2)
	onlyNew := http.Header{}
	require.NoError(t, swh.SetHeaders(onlyNew, []string{newSecret}, "msg_2", now, body))

	for _, tc := range []struct {
		name    string
		h       http.Header
		secrets []string
		ok      bool
	}{
		{"both signatures, old receiver", both, []string{oldSecret}, true},
		{"both signatures, new receiver", both, []string{newSecret}, true},
		{"both signatures, stranger", both, []string{stranger}, false},
		{"new signature, receiver with both", onlyNew, []string{oldSecret, newSecret}, true},
		{"new signature, old receiver", onlyNew, []string{oldSecret}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := swh.Verify(tc.secrets, tc.h, body, now, 0)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, swh.ErrNoMatch)
			}
		})
	}
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	key := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	for _, tc := range []struct {
		name   string
		secret string
		len    int // 0: refused
		msg    string
	}{
		{"spec secret", specSecret, 24, ""},
		{"without the prefix", strings.TrimPrefix(specSecret, swh.SecretPrefix), 24, ""},
		{"64 bytes", swh.SecretPrefix + key(64), 64, ""},
		{"empty", "", 0, "empty"},
		{"prefix only", swh.SecretPrefix, 0, "empty"},
		{"bad base64", swh.SecretPrefix + "not*base64*at*all", 0, "not standard base64"},
		{"url-safe base64", swh.SecretPrefix + strings.NewReplacer("+", "-", "/", "_").Replace(base64.StdEncoding.EncodeToString([]byte("\xfb\xff\xfe-twenty-four-bytes-long"))), 0, "not standard base64"},
		{"missing padding", swh.SecretPrefix + strings.TrimRight(key(25), "="), 0, "not standard base64"},
		{"a newline inside", swh.SecretPrefix + key(24)[:8] + "\n" + key(24)[8:], 0, "not standard base64"},
		{"23 bytes", swh.SecretPrefix + key(23), 0, "23 bytes, want 24 to 64"},
		{"65 bytes", swh.SecretPrefix + key(65), 0, "65 bytes, want 24 to 64"},
		{"a long text", swh.SecretPrefix + strings.Repeat("A", 1000), 0, "longer than 64 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k, err := swh.ParseSecret(tc.secret)
			if tc.len > 0 {
				require.NoError(t, err)
				require.Len(t, k, tc.len)
				return
			}
			require.ErrorIs(t, err, swh.ErrBadSecret)
			require.Contains(t, err.Error(), tc.msg)
			if enc := strings.TrimPrefix(tc.secret, swh.SecretPrefix); len(enc) > 4 {
				require.NotContains(t, err.Error(), enc)
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, b := swh.NewSecret(), swh.NewSecret()
	require.NotEqual(t, a, b)
	require.True(t, strings.HasPrefix(a, swh.SecretPrefix))
	k, err := swh.ParseSecret(a)
	require.NoError(t, err)
	require.Len(t, k, 32)
}

func TestSignRefuses(t *testing.T) {
	t.Parallel()
	_, err := swh.Sign("whsec_c2hvcnQ=", "msg_1", specTime, nil)
	require.ErrorIs(t, err, swh.ErrBadSecret)
	h := http.Header{}
	require.ErrorIs(t, swh.SetHeaders(h, nil, "msg_1", specTime, nil), swh.ErrNoSecrets)
	require.ErrorIs(t, swh.SetHeaders(h, []string{specSecret}, "", specTime, nil), swh.ErrMissingHeaders)
	require.ErrorIs(t, swh.SetHeaders(h, []string{specSecret, "whsec_"}, "msg_1", specTime, nil), swh.ErrBadSecret)
	require.Empty(t, h, "nothing is set when signing fails")
}
