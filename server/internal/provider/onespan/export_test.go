package onespan

import (
	"net/http"
	"time"
)

// SleepCtx is the client's default wait between retries.
var SleepCtx = sleepCtx

// RetryDelay is how long the client waits after an answer with header h at time now.
func RetryDelay(h http.Header, now time.Time, attempt int) time.Duration {
	c := &Client{now: func() time.Time { return now }}
	return c.retryDelay(h, attempt)
}

// ToPixels converts PDF points to the pixels a field is placed in.
var ToPixels = toPixels
