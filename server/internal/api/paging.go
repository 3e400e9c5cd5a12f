package api

import (
	"encoding/base64"
	"encoding/json"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// pageToken is the opaque page_token: where the previous page ended, bound to the filter it was
// issued for so that a token cannot be replayed against another query.
type pageToken struct {
	After  string `json:"a"`
	Filter string `json:"f,omitempty"`
	Total  int64  `json:"t,omitempty"`
}

// encodePageToken returns the token of the page after after; total is the count of the whole
// listing, when it has one.
func encodePageToken(after, filter string, total ...int64) string {
	if after == "" {
		return ""
	}
	t := pageToken{After: after, Filter: filter}
	if len(total) > 0 {
		t.Total = total[0]
	}
	b, _ := json.Marshal(t) // cannot fail: strings and a number
	return base64.RawURLEncoding.EncodeToString(b)
}

// page reads page_size and page_token into an engine.Page, adding problems for bad ones.
// page_size 0 means the default; sizes above the maximum are lowered to it (AIP-158).
func page(ps *engine.Problems, size int32, token, filter string) engine.Page {
	p := engine.Page{Size: int(size)}
	switch {
	case size < 0:
		ps.Add("page_size", "must not be negative")
	case size == 0:
		p.Size = engine.DefaultPageSize
	case size > engine.MaxPageSize:
		p.Size = engine.MaxPageSize
	}
	if token == "" {
		return p
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	var t pageToken
	if err != nil || len(raw) > 4096 || json.Unmarshal(raw, &t) != nil || t.After == "" || t.Total < 0 {
		ps.Add("page_token", "is not a token this service issued")
		return p
	}
	if t.Filter != filter {
		ps.Add("page_token", "was issued for another filter; start again from the first page")
		return p
	}
	p.After, p.Total = t.After, t.Total
	return p
}
