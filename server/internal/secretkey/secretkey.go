// Package secretkey reads the key ring that seals provider secrets at rest: FLOWHOOK_SECRET_KEY,
// or the embedded mode's key file. It is a leaf package so that config can validate the ring at
// start-up and store can read the key file with the same rules.
//
// A ring is one or more keys, each base64 (standard or URL alphabet, padded or not) of 32 bytes,
// separated by commas or newlines. The first key seals; every key opens. To rotate, put the new
// key first and keep the old ones after it until `flowhook rotate-secrets` has re-sealed
// everything with the new one.
package secretkey

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Len is the length of a key (AES-256).
const Len = 32

// Parse reads a ring. Its errors name the key by position, never by value, and are prefixed with
// what the ring was read from (e.g. "FLOWHOOK_SECRET_KEY").
func Parse(source, s string) ([][]byte, error) {
	var parts []string
	for _, line := range strings.Split(s, "\n") {
		for _, p := range strings.Split(line, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%s: no key (generate one with `openssl rand -base64 32`)", source)
	}
	keys := make([][]byte, 0, len(parts))
	first := map[string]int{} // key → its position (1-based), to report a repeated key
	var errs []error
	for i, p := range parts {
		name := source
		if len(parts) > 1 {
			name = fmt.Sprintf("%s: key %d of %d", source, i+1, len(parts))
		}
		key, err := parseOne(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if j, ok := first[string(key)]; ok {
			errs = append(errs, fmt.Errorf("%s: the same key as key %d", name, j))
			continue
		}
		first[string(key)] = i + 1
		keys = append(keys, key)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return keys, nil
}

func parseOne(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != Len {
				return nil, fmt.Errorf("want %d bytes of base64 (e.g. `openssl rand -base64 32`), got %d bytes", Len, len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("not base64 (generate one with `openssl rand -base64 32`)")
}
