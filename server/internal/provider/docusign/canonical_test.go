package docusign_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/provider/docusign"
)

// roundTrip is the dedupe key's canonical form as it was first defined, and as every key
// stored so far was made: the object decoded into a map (numbers as json.Number), drop
// removed, and encoded again by encoding/json.
func roundTrip(b []byte, drop string) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var top map[string]any
	if err := d.Decode(&top); err != nil {
		return nil, err
	}
	delete(top, drop)
	return json.Marshal(top)
}

// canonicalSeeds are objects whose canonical forms are easy to get wrong: escapes, characters
// encoding/json escapes, invalid UTF-8, duplicate keys (the last wins), numbers as written,
// nesting, and the dropped key at the top and below it.
var canonicalSeeds = []string{
	`{}`,
	` { "b" : 1 , "a" : [ 1 , 2.50 , -0 , 1E+5 , true , false , null ] } `,
	`{"a":"x","a":"y","b":{"c":1,"c":{"d":[]}}}`,
	`{"retryCount":1,"retryCount":2,"data":{"retryCount":3}}`,
	`{"s":"<a href=\"x\">&amp;</a>","t":"tab\there\nline\u0001","u":"\u2028\u2029 é 日本 \ud83d\ude00"}`,
	"{\"bad\":\"\xff\xfe invalid UTF-8\",\"\xc3\x28\":1}",
	`{"esc\u0061ped":"k","escaped":"later wins","\"":"quote key","\\":"backslash key"}`,
	`{"z":{"y":{"x":[{"w":{}},[],[[]],""]}},"":""}`,
	`{"n":12345678901234567890123,"f":0.1e-7,"e":1E400}`,
	`{"<>&":"<>&","slash":"a\/b","uni":"\u00e9\u00E9"}`,
}

// TestCanonicalObjectIsTheRoundTrip: the canonical form is byte for byte the round trip's, for
// the seeds and for every DocuSign message in testdata (so no dedupe key changed), with and
// without retryCount dropped; and what is not one JSON object is refused.
func TestCanonicalObjectIsTheRoundTrip(t *testing.T) {
	t.Parallel()
	bodies := append([]string(nil), canonicalSeeds...)
	files, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		bodies = append(bodies, string(b))
	}
	for _, body := range bodies {
		for _, drop := range []string{"retryCount", "", "a"} {
			want, err := roundTrip([]byte(body), drop)
			require.NoError(t, err, "%s", body)
			got, err := docusign.CanonicalObject([]byte(body), drop)
			require.NoError(t, err, "%s", body)
			require.Equal(t, string(want), string(got), "%s without %q", body, drop)
		}
	}
	for _, body := range []string{``, ` `, `[]`, `"x"`, `1`, `null`, `{`, `{"a"}`, `{"a":1,}`, `{"a":1}x`, `{"a":[1,]}`, `{"a":"x}`} {
		_, err := docusign.CanonicalObject([]byte(body), "retryCount")
		require.Error(t, err, "%q", body)
	}
	nested := func(n int) []byte {
		return []byte(strings.Repeat(`{"a":`, n) + `1` + strings.Repeat(`}`, n))
	}
	want, err := roundTrip(nested(10000), "")
	require.NoError(t, err, "encoding/json reads 10,000 levels")
	got, err := docusign.CanonicalObject(nested(10000), "")
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
	_, err = roundTrip(nested(10001), "")
	require.Error(t, err)
	_, err = docusign.CanonicalObject(nested(10001), "")
	require.Error(t, err, "nested deeper than encoding/json reads")
}

// FuzzCanonicalObject: for any JSON object the canonical form is the round trip's, and no
// input makes it panic.
func FuzzCanonicalObject(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := docusign.CanonicalObject(body, "retryCount")
		if !json.Valid(body) || !bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")) {
			return // a message that ParseEvent refuses before its key is made; only no panic
		}
		want, rerr := roundTrip(body, "retryCount")
		if rerr != nil {
			require.Error(t, err, "the round trip refused %q", body)
			return
		}
		require.NoError(t, err, "%q", body)
		require.Equal(t, string(want), string(got), "%q", body)
	})
}

// BenchmarkCanonicalObject: the canonical form of a DocuSign message (envelope-completed, with
// its recipients), written from the text and by the round trip it replaces.
func BenchmarkCanonicalObject(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "events", "envelope-completed.json"))
	require.NoError(b, err)
	b.Run("text", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := docusign.CanonicalObject(body, "retryCount"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("round-trip", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := roundTrip(body, "retryCount"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
