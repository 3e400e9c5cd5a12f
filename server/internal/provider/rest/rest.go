// Package rest is the HTTP exchange every provider client makes with its outside system: one
// request, its answer read up to a limit, tried again with backoff on 429, 408, 5xx and
// transport errors when the request may be repeated — waiting as long as the system asks
// (Retry-After, or a provider's own rate-limit headers) up to a cap — and otherwise handed
// back for the provider to turn into an *engine.ProviderError. It also holds the few helpers
// that keep provider text safe to show an administrator.
package rest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// Defaults of a Client.
const (
	// DefaultMaxRetries is how many times a rate-limited or failed request is tried again.
	DefaultMaxRetries = 3
	// DefaultMaxRetryWait caps one wait between tries; when the system asks for longer (an
	// exhausted hourly limit), the client stops and reports the wait in Response.RetryAfter.
	DefaultMaxRetryWait = 30 * time.Second
	// DefaultLimit caps an answer's body.
	DefaultLimit int64 = 8 << 20

	baseBackoff = time.Second
	// longestWait bounds what a Retry-After may ask for.
	longestWait = 24 * time.Hour
)

// Client makes requests to one outside system. The zero value works (net/http's default
// client, the defaults above); a provider client sets what it needs.
type Client struct {
	HTTP *http.Client
	Now  func() time.Time
	// Wait waits between tries; it must return ctx.Err() when ctx ends first. Tests pass one
	// that returns at once and records the durations.
	Wait         func(ctx context.Context, d time.Duration) error
	MaxRetries   int
	MaxRetryWait time.Duration
	// RateLimit reads a provider's own rate-limit headers when an answer carries no
	// Retry-After; zero falls back to exponential backoff from one second.
	RateLimit func(h http.Header, now time.Time) time.Duration
}

// Request is one request.
type Request struct {
	Method string
	URL    string
	Body   []byte
	// ContentType and Accept are sent when set; Header holds any other header (credentials).
	ContentType string
	Accept      string
	Header      http.Header
	// Prepare, when set, finishes each try's request (a signature over a fresh timestamp).
	Prepare func(*http.Request) error
	// Idempotent says a transport error, a 408 or a 5xx may be tried again: the request does
	// nothing twice. A 429 is always tried again (nothing was done).
	Idempotent bool
	// Limit caps the answer's body (DefaultLimit when zero).
	Limit int64
}

// Response is an answer, its body read up to the request's limit.
type Response struct {
	Status   int
	Header   http.Header
	Body     []byte
	TooLarge bool // the body was longer than the limit and is cut
	// RetryAfter is how long to wait before trying again, on a 408, 429 or 5xx that was not
	// tried again here (out of tries, a wait above the cap, or a request that may not repeat).
	RetryAfter time.Duration
}

// OK reports a 2xx answer.
func (r *Response) OK() bool { return r.Status/100 == 2 }

// Transient reports whether an answer with the status may succeed when tried later.
func Transient(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// Do sends the request, tries it again while that may help, and returns the last answer
// whatever its status. The error is a transport error (or ctx's).
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	maxRetries, maxWait := c.MaxRetries, c.MaxRetryWait
	if maxRetries == 0 {
		maxRetries = DefaultMaxRetries
	}
	if maxWait == 0 {
		maxWait = DefaultMaxRetryWait
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.send(ctx, r)
		var delay time.Duration
		switch {
		case err != nil:
			// A call the client refuses to make (engine.ErrProviderPermanent: a redirect to
			// another host, an address it does not call) fails the same way every time.
			if ctx.Err() != nil || !r.Idempotent || attempt >= maxRetries || errors.Is(err, engine.ErrProviderPermanent) {
				return nil, err
			}
			delay = baseBackoff << attempt
		case Transient(resp.Status):
			delay = c.RetryDelay(resp.Header, attempt)
			// A create that failed with a 5xx may have been done all the same: the caller looks
			// for it (or repeats it under the same idempotency key) before trying again, so it
			// is not repeated here.
			if attempt >= maxRetries || delay > maxWait || (!r.Idempotent && resp.Status != http.StatusTooManyRequests) {
				resp.RetryAfter = delay
				return resp, nil
			}
		default:
			return resp, nil
		}
		if err := c.wait(ctx, delay); err != nil {
			return nil, err
		}
	}
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) wait(ctx context.Context, d time.Duration) error {
	if c.Wait != nil {
		return c.Wait(ctx, d)
	}
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RetryDelay is how long the system asked us to wait: Retry-After (seconds or a date), else
// what its rate-limit headers say, else exponential backoff from one second.
func (c *Client) RetryDelay(h http.Header, attempt int) time.Duration {
	if d, ok := RetryAfter(h, c.now()); ok {
		return d
	}
	if c.RateLimit != nil {
		if d := c.RateLimit(h, c.now()); d > 0 {
			return min(d, longestWait)
		}
	}
	return baseBackoff << attempt
}

// RetryAfter reads a Retry-After header, in seconds or as an HTTP date, capped at a day.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return min(time.Duration(min(n, int64(longestWait/time.Second)))*time.Second, longestWait), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), longestWait), true
	}
	return 0, false
}

// send makes one HTTP exchange and reads the body, at most the limit of it.
func (c *Client) send(ctx context.Context, r Request) (*Response, error) {
	var rd io.Reader
	if r.Body != nil {
		rd = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	if r.Accept != "" {
		req.Header.Set("Accept", r.Accept)
	}
	req.Header.Set("User-Agent", "flowhook")
	if r.Prepare != nil {
		if err := r.Prepare(req); err != nil {
			return nil, err
		}
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	limit := r.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	out := &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if int64(len(b)) > limit {
		out.Body, out.TooLarge = b[:limit], true
	}
	return out, nil
}

// Clean keeps provider text printable and at most n runes long, since it reaches
// administrators.
func Clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}

// Quote is a short quoted form of provider text, for messages.
func Quote(s string) string { return QuoteN(s, 40) }

// QuoteN is the quoted form of the first n runes of provider text.
func QuoteN(s string, n int) string { return strconv.Quote(Clean(s, n)) }

// ParseTime reads the ISO-8601 times providers send: RFC 3339 with up to 9 fractional
// digits (DocuSign often sends 7), and the same without a zone, which is UTC. Go's zero
// time is not a time: callers read it as none.
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), !t.IsZero()
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC); err == nil {
		return t, !t.IsZero()
	}
	return time.Time{}, false
}
