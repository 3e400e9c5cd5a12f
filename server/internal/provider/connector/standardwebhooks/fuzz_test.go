package standardwebhooks_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/require"

	swh "github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
)

// FuzzVerify: Verify never panics, fails only with its sentinels, accepts a message only when
// one of the considered v1 entries is the signature of the headers and body it was given, and
// accepts that signature wherever it stands among the first MaxSignatures entries.
func FuzzVerify(f *testing.F) {
	f.Add(specID, "1614265330", specSig, []byte(specBody), int64(0))
	f.Add(specID, "1614265330", "v1a,x v2,y "+specSig, []byte(specBody), int64(299))
	f.Add("", "", "", []byte(nil), int64(-301))
	f.Add("msg_1", "abc", "v1,", []byte("{}"), int64(0))
	f.Add("msg_1", "1614265330", "v1,==== v1,AAAA", []byte("x"), int64(1e6))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte, skew int64) {
		now := specTime.Add(time.Duration(skew%1e6) * time.Second)
		h := http.Header{}
		h.Set(swh.HeaderID, id)
		h.Set(swh.HeaderTimestamp, ts)
		h.Set(swh.HeaderSignature, sig)
		err := swh.Verify([]string{specSecret}, h, body, now, 0)
		if err != nil {
			require.True(t, errors.Is(err, swh.ErrMissingHeaders) || errors.Is(err, swh.ErrBadHeaders) ||
				errors.Is(err, swh.ErrBadTimestamp) || errors.Is(err, swh.ErrStale) || errors.Is(err, swh.ErrNoMatch),
				"unexpected error %v", err)
			require.NotContains(t, err.Error(), strings.TrimPrefix(specSecret, swh.SecretPrefix))
			return
		}
		good := signAt(t, id, ts, body)
		entries := strings.Fields(sig)
		require.Contains(t, entries[:min(len(entries), swh.MaxSignatures)], good, "accepted a message without its signature")

		// The same message with a byte more in the body is refused.
		require.ErrorIs(t, swh.Verify([]string{specSecret}, h, append(body[:len(body):len(body)], 'x'), now, 0), swh.ErrNoMatch)
	})
}

// signAt is the v1 signature over the timestamp header as received, computed here rather
// than with Sign, which formats a time itself.
func signAt(t *testing.T, id, ts string, body []byte) string {
	t.Helper()
	key, err := swh.ParseSecret(specSecret)
	require.NoError(t, err)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// FuzzParseSecret: ParseSecret never panics, returns a key of an allowed length or an
// ErrBadSecret whose message is one of its own, never the input.
func FuzzParseSecret(f *testing.F) {
	for _, s := range []string{specSecret, "", swh.SecretPrefix, "whsec_c2hvcnQ=", "whsec_!!", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"whsec_" + strings.Repeat("QUFB", 30), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La\nLaSw"} {
		f.Add(s)
	}
	messages := map[string]bool{
		"standardwebhooks: bad secret: the secret is empty":           true,
		"standardwebhooks: bad secret: the key is longer than  bytes": true,
		"standardwebhooks: bad secret: the key is not standard base":  true,
		"standardwebhooks: bad secret: the key is  bytes, want  to ":  true,
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := swh.ParseSecret(s)
		if err == nil {
			require.GreaterOrEqual(t, len(key), swh.MinKeyLen)
			require.LessOrEqual(t, len(key), swh.MaxKeyLen)
			return
		}
		require.ErrorIs(t, err, swh.ErrBadSecret)
		msg := strings.Map(func(r rune) rune {
			if unicode.IsDigit(r) {
				return -1
			}
			return r
		}, err.Error())
		require.True(t, messages[msg], "message %q is not one of ParseSecret's own", err.Error())
	})
}

// FuzzSignVerify: Sign and SetHeaders round-trip through Verify. A secret of any key of an
// allowed length signs a message Verify accepts within the tolerance (either way) and refuses
// as stale beyond it; the signature is the v1 HMAC of "id.timestamp.body", the same on every
// call; a message signed for a rotation verifies with either secret alone; another secret,
// a byte more in the body, another id or another timestamp is refused.
func FuzzSignVerify(f *testing.F) {
	f.Add([]byte(strings.Repeat("k", swh.MinKeyLen)), "msg_1", uint32(1614265330), []byte(specBody), int64(0))
	f.Add([]byte(strings.Repeat("\xff", swh.MaxKeyLen)), "msg_2", uint32(0), []byte(nil), int64(300))
	f.Add([]byte("short"), "msg_3", uint32(1), []byte("x"), int64(-301))
	f.Add([]byte(strings.Repeat("k", swh.MaxKeyLen+1)), " ", uint32(1), []byte("{}"), int64(-300))
	f.Fuzz(func(t *testing.T, key []byte, id string, unix uint32, body []byte, skew int64) {
		secret := swh.SecretPrefix + base64.StdEncoding.EncodeToString(key)
		ts := time.Unix(int64(unix), 0)
		sig, err := swh.Sign(secret, id, ts, body)
		if len(key) < swh.MinKeyLen || len(key) > swh.MaxKeyLen {
			require.ErrorIs(t, err, swh.ErrBadSecret)
			return
		}
		require.NoError(t, err)
		again, err := swh.Sign(secret, id, ts, body)
		require.NoError(t, err)
		require.Equal(t, sig, again, "signing is deterministic")
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + strconv.FormatInt(int64(unix), 10) + "."))
		m.Write(body)
		require.Equal(t, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)), sig)

		other := swh.NewSecret()
		h := http.Header{}
		err = swh.SetHeaders(h, []string{other, secret}, id, ts, body)
		if id == "" {
			require.ErrorIs(t, err, swh.ErrMissingHeaders)
			return
		}
		require.NoError(t, err)
		require.Equal(t, strconv.FormatInt(int64(unix), 10), h.Get(swh.HeaderTimestamp))
		require.Contains(t, strings.Fields(h.Get(swh.HeaderSignature)), sig)

		skew %= 1000
		now := ts.Add(time.Duration(skew) * time.Second)
		err = swh.Verify([]string{secret}, h, body, now, 0)
		switch {
		case strings.TrimSpace(id) == "":
			require.ErrorIs(t, err, swh.ErrMissingHeaders)
			return
		case len(id) > swh.MaxHeaderLen:
			require.ErrorIs(t, err, swh.ErrBadHeaders)
			return
		case skew > 300 || skew < -300:
			require.ErrorIs(t, err, swh.ErrStale)
			return
		}
		require.NoError(t, err)
		require.NoError(t, swh.Verify([]string{other}, h, body, now, 0), "the other secret of a rotation")
		require.ErrorIs(t, swh.Verify([]string{swh.NewSecret()}, h, body, now, 0), swh.ErrNoMatch)
		require.ErrorIs(t, swh.Verify([]string{secret}, h, append(body[:len(body):len(body)], 'x'), now, 0), swh.ErrNoMatch)
		moved := h.Clone()
		moved.Set(swh.HeaderID, id+"x")
		require.ErrorIs(t, swh.Verify([]string{secret}, moved, body, now, 0), swh.ErrNoMatch)
		// Another timestamp, still within the tolerance.
		to := int64(unix) + 1
		if skew < 0 && unix > 0 {
			to = int64(unix) - 1
		}
		if age := now.Unix() - to; age >= -300 && age <= 300 {
			moved = h.Clone()
			moved.Set(swh.HeaderTimestamp, strconv.FormatInt(to, 10))
			require.ErrorIs(t, swh.Verify([]string{secret}, moved, body, now, 0), swh.ErrNoMatch)
		}
	})
}
