package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/store"
)

// post sends a Connect unary call with JSON and returns the status and the error's code.
func postConnect(t *testing.T, b *testBundle, path string, body []byte, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.baseURL+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := b.httpClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var e struct {
		Code string `json:"code"`
	}
	if res.StatusCode != http.StatusOK {
		require.NoError(t, json.Unmarshal(raw, &e), string(raw))
	}
	return res.StatusCode, e.Code
}

// A caller without a key is refused before its request is read: it learns nothing of the
// rules (an unknown field is not reported to it) and a body that would expand far past the cap
// is not inflated for it. The same requests with the key are judged on their content.
func TestAnonymousCallsAreRefusedBeforeTheirBody(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	const whoAmI = "/flowhook.v1.IdentityService/WhoAmI"

	status, code := postConnect(t, b, whoAmI, []byte(`{"rolez":1}`), nil)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "unauthenticated", code)
	status, code = postConnect(t, b, whoAmI, []byte(`{"rolez":1}`), map[string]string{"Authorization": "Bearer " + bootstrapKey})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_argument", code)

	// 8 MiB of zeros gzip to a few KiB: over the 1 MiB cap once inflated.
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, err := zw.Write(append([]byte(`{"x":"`), bytes.Repeat([]byte("0"), 8<<20)...))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	gz := map[string]string{"Content-Encoding": "gzip"}
	status, code = postConnect(t, b, whoAmI, zipped.Bytes(), gz)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "unauthenticated", code)
	gz["Authorization"] = "Bearer " + bootstrapKey
	status, code = postConnect(t, b, whoAmI, zipped.Bytes(), gz)
	require.Equal(t, "resource_exhausted", code, status)
}

// Health and reflection need no key, so what they read is capped small: a request far past
// what naming a service takes is refused, not read in full.
func TestOpenEndpointsCapTheirRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	const check = "/grpc.health.v1.Health/Check"
	status, code := postConnect(t, b, check, []byte(`{"service":"flowhook.v1.IdentityService"}`), nil)
	require.Equal(t, http.StatusOK, status, code)
	big := []byte(`{"service":"` + strings.Repeat("x", 64<<10) + `"}`)
	status, code = postConnect(t, b, check, big, nil)
	require.Equal(t, "resource_exhausted", code, status)
	// Reflection is a stream: over gRPC, one message of 64 KiB (the length prefix says so).
	for _, path := range []string{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", check} {
		frame := make([]byte, 5, 5+64<<10)
		binary.BigEndian.PutUint32(frame[1:], 64<<10)
		frame = append(frame, bytes.Repeat([]byte{0}, 64<<10)...)
		req, err := http.NewRequest(http.MethodPost, b.baseURL+path, bytes.NewReader(frame))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("TE", "trailers")
		res, err := b.h2cClient.Do(req)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		got := res.Trailer.Get("Grpc-Status")
		if got == "" {
			got = res.Header.Get("Grpc-Status")
		}
		require.Equal(t, "8", got, "%s: grpc-status (8 is ResourceExhausted)", path)
	}
}
