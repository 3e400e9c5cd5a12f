package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// proxy is the load balancer in front of the replicas: round-robin over the live ones. A
// request that finds no one listening (a replica just killed) goes to the next; a webhook
// answered 503 (the database restarting) is tried again for a while, as a provider whose
// retry came quickly would, so that the fakes do not switch to their daily retry.
type proxy struct {
	mu       sync.Mutex
	backends []string // base URLs, by replica
	live     []bool
	next     atomic.Uint64

	retryFor time.Duration // how long one request is retried
	retried  atomic.Int64  // attempts that went to another replica or waited
	handler  http.Handler
}

func newProxy(backends []string, retryFor time.Duration) *proxy {
	p := &proxy{backends: backends, live: make([]bool, len(backends)), retryFor: retryFor}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	p.handler = &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.Out.Host = r.In.Host }, // the URL is set per attempt
		Transport: retrying{p: p, next: t},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "soak proxy: "+err.Error(), http.StatusBadGateway)
		},
	}
	return p
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }

// setLive marks replica i as taking requests or not.
func (p *proxy) setLive(i int, live bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live[i] = live
}

// pick returns the next live replica's base URL ("" when none is live).
func (p *proxy) pick() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.backends)
	start := int(p.next.Add(1))
	for k := range n {
		if i := (start + k) % n; p.live[i] {
			return p.backends[i]
		}
	}
	return ""
}

// retrying sends a request to a live replica, and again to the next on a connection error.
type retrying struct {
	p    *proxy
	next http.RoundTripper
}

func (rt retrying) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
	}
	webhook := strings.HasPrefix(r.URL.Path, "/webhooks/")
	deadline := time.Now().Add(rt.p.retryFor)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			rt.p.retried.Add(1)
			// Back off a little: the next replica may be the one that just failed.
			if err := wait(r.Context(), time.Duration(min(attempt, 10))*50*time.Millisecond); err != nil {
				return nil, err
			}
		}
		base := rt.p.pick()
		if base == "" {
			if time.Now().After(deadline) {
				return nil, errors.New("no replica is live")
			}
			continue
		}
		out := r.Clone(r.Context())
		out.URL.Scheme, out.URL.Host = "http", strings.TrimPrefix(base, "http://")
		out.Body = io.NopCloser(bytes.NewReader(body))
		res, err := rt.next.RoundTrip(out)
		if err == nil && !(webhook && res.StatusCode == http.StatusServiceUnavailable) {
			return res, nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return nil, fmt.Errorf("%s: %w", base, err)
			}
			return res, nil
		}
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		} else if !retryable(err) || r.Context().Err() != nil {
			return nil, err
		}
	}
}

// retryable reports whether err is a replica gone away: refused, reset, or closed before it
// answered. The request may have been handled (a kill after the commit): every request the
// soak sends may be repeated (request ids, webhook dedupe keys).
func retryable(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "server closed")
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
