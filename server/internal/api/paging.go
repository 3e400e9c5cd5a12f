package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/flowhook/flowhook/server/internal/auth"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// A page_token is opaque to clients and tamper-evident. Its bytes (base64url, unpadded) are:
//
//	version (1) | rpc tag (8) | filter tag (8) | caller tag (8) | position | HMAC-SHA256 (32)
//
// The position is where the previous page ended (an id or a name the caller has seen). The
// tags are truncated HMACs, under the server's key, of the RPC's procedure name, of the
// request's filter and of the caller's user id: the token carries none of them, yet a token
// used with another RPC, filter or caller is recognised as such and refused with a message
// that says which. The final HMAC covers everything before it, so a token edited by hand, in
// any byte, or cut short is refused. The key is the same on every replica (see
// store.PageKey), so a token issued by one is honoured by all. total_size is never carried:
// the server counts on every page.
const (
	pageTokenVersion = 1
	pageTagLen       = 8
	pageMACLen       = sha256.Size
	pageHeaderLen    = 1 + 3*pageTagLen
	// maxPageToken caps what is decoded: positions are ids and names, far shorter.
	maxPageToken = 1024
)

// PageKeyFunc returns the key that authenticates page tokens (at least 32 bytes), the same on
// every replica.
type PageKeyFunc func(context.Context) ([]byte, error)

// pageKeys loads the page-token key once, when the first paged RPC needs it.
type pageKeys struct {
	load PageKeyFunc
	mu   sync.Mutex
	key  []byte
}

func (k *pageKeys) get(ctx context.Context) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil {
		return k.key, nil
	}
	key, err := k.load(ctx)
	if err != nil {
		return nil, fmt.Errorf("the page-token key: %w", err)
	}
	if len(key) < 32 {
		return nil, errors.New("the page-token key is shorter than 32 bytes")
	}
	k.key = key
	return key, nil
}

// pager is what a paged RPC's tokens are made and checked with: the key and the RPC.
type pager struct {
	key       []byte
	procedure string
}

type pagerCtxKey struct{}

// pagingInterceptor hands the RPCs that page (their request has a page_token) the key and
// their procedure name, through the context, for page and encodePageToken.
func pagingInterceptor(keys *pageKeys, toError func(context.Context, error) error) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if _, paged := req.Any().(interface{ GetPageToken() string }); paged {
				key, err := keys.get(ctx)
				if err != nil {
					return nil, toError(ctx, err)
				}
				ctx = context.WithValue(ctx, pagerCtxKey{}, pager{key: key, procedure: req.Spec().Procedure})
			}
			return next(ctx, req)
		}
	}
}

// tags returns the bindings of a token issued in ctx for filter.
func (pg pager) tags(ctx context.Context, filter string) []byte {
	caller := ""
	if p, ok := auth.FromContext(ctx); ok {
		caller = p.UserID
	}
	out := make([]byte, 0, 3*pageTagLen)
	for _, b := range [][2]string{{"rpc", pg.procedure}, {"filter", filter}, {"caller", caller}} {
		m := hmac.New(sha256.New, pg.key)
		m.Write([]byte("flowhook page token binding\x00" + b[0] + "\x00"))
		m.Write([]byte(b[1]))
		out = append(out, m.Sum(nil)[:pageTagLen]...)
	}
	return out
}

func (pg pager) mac(b []byte) []byte {
	m := hmac.New(sha256.New, pg.key)
	m.Write([]byte("flowhook page token\x00"))
	m.Write(b)
	return m.Sum(nil)
}

// encodePageToken returns the token of the page after after ("" when there is none), for the
// RPC in ctx, filter and the caller.
func encodePageToken(ctx context.Context, after, filter string) string {
	pg, ok := ctx.Value(pagerCtxKey{}).(pager)
	if after == "" || !ok {
		return ""
	}
	b := make([]byte, 0, pageHeaderLen+len(after)+pageMACLen)
	b = append(b, pageTokenVersion)
	b = append(b, pg.tags(ctx, filter)...)
	b = append(b, after...)
	b = append(b, pg.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// page reads page_size and page_token into an engine.Page, adding problems for bad ones.
// page_size 0 means the default; sizes above the maximum are lowered to it (AIP-158). The
// token must have been issued by this service, for this RPC, filter and caller.
func page(ctx context.Context, ps *engine.Problems, size int32, token, filter string) engine.Page {
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
	const again = "; start again from the first page, without a page_token"
	pg, ok := ctx.Value(pagerCtxKey{}).(pager)
	if !ok {
		ps.Add("page_token", "cannot be checked by this RPC")
		return p
	}
	var raw []byte
	var err error
	if len(token) <= maxPageToken {
		// Strict: a changed last character cannot decode to the same bytes.
		raw, err = base64.RawURLEncoding.Strict().DecodeString(token)
	}
	if len(token) > maxPageToken || err != nil || len(raw) <= pageHeaderLen+pageMACLen || raw[0] != pageTokenVersion ||
		!hmac.Equal(pg.mac(raw[:len(raw)-pageMACLen]), raw[len(raw)-pageMACLen:]) {
		ps.Add("page_token", "is not a token this service issued (changed or cut short?)"+again)
		return p
	}
	want, got := pg.tags(ctx, filter), raw[1:pageHeaderLen]
	switch {
	case !bytes.Equal(want[:pageTagLen], got[:pageTagLen]):
		ps.Add("page_token", "was issued by another RPC"+again)
	case !bytes.Equal(want[2*pageTagLen:], got[2*pageTagLen:]):
		ps.Add("page_token", "was issued to another caller"+again)
	case !bytes.Equal(want[pageTagLen:2*pageTagLen], got[pageTagLen:2*pageTagLen]):
		ps.Add("page_token", "was issued for another filter"+again)
	default:
		p.After = string(raw[pageHeaderLen : len(raw)-pageMACLen])
	}
	return p
}

// filterKey is the form of a request's filter message that its page tokens are bound to:
// deterministic, so that the same filter gives the same key on every replica.
func filterKey(m proto.Message) string {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return "invalid:" + fmt.Sprint(m)
	}
	return string(b)
}
