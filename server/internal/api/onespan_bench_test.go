package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowhook/flowhook/server/internal/store"
)

// BenchmarkOneSpanWebhook measures OneSpan callbacks on PostgreSQL through the real HTTP server:
// the callback key checked, the body parsed, the event stored PENDING with the job that will
// read the package back, 200 out (OneSpan's callbacks are never applied inline). "light" sends
// one at a time, "saturated" keeps 32 in flight.
func BenchmarkOneSpanWebhook(b *testing.B) {
	bundle := setupOneSpan(b, store.Postgres)
	for _, load := range []struct {
		name     string
		inFlight int
	}{{"light", 1}, {"saturated", 32}} {
		b.Run("Accept/"+load.name, func(b *testing.B) {
			bodies := make([][]byte, b.N)
			for i := range bodies {
				bodies[i] = []byte(fmt.Sprintf(`{"@class":"com.silanis.esl.packages.event.ESLProcessEvent","name":"PACKAGE_COMPLETE","sessionUser":"u1","packageId":%q,"message":null,"documentId":null,"createdDate":"2026-11-27T14:12:34.544Z"}`,
					uuid.NewString()))
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: load.inFlight}}
			defer client.CloseIdleConnections()
			lat := make([]time.Duration, b.N)
			var next, failed atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range load.inFlight {
				wg.Go(func() {
					for {
						i := int(next.Add(1)) - 1
						if i >= b.N {
							return
						}
						t0 := time.Now()
						req, err := http.NewRequest(http.MethodPost, bundle.baseURL+"/webhooks/OneSpan", bytes.NewReader(bodies[i]))
						if err != nil {
							failed.Add(1)
							continue
						}
						req.Header.Set("Content-Type", "application/json; charset=utf-8")
						req.Header.Set("Authorization", "Basic "+oneSpanCallbackKey)
						res, err := client.Do(req)
						if err != nil || res.StatusCode != http.StatusOK {
							failed.Add(1)
						}
						if err == nil {
							res.Body.Close()
						}
						lat[i] = time.Since(t0)
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if failed.Load() > 0 {
				b.Fatalf("%d of %d callbacks were not answered 200", failed.Load(), b.N)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
		})
	}
}
