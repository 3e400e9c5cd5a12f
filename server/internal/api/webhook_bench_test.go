package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/docusign/docusignfake"
	"github.com/flowhook/flowhook/server/internal/store"
)

// BenchmarkDocuSignWebhook measures DocuSign Connect notifications on PostgreSQL through the
// real HTTP server: a signed request in, the event committed (and, for a completion, the
// instance moved to its next state and committed), 200 out.
//
//   - Ingest: envelope-sent for envelopes nobody waits on: verify, parse, store the raw event
//     with its job, look for the work item, answer.
//   - Transition: envelope-completed for an instance waiting in "sign": everything above plus
//     resolving the work item and taking the transition to END, in one transaction.
//   - TransitionDebug: Transition with the Webhook Receiver debug option on.
//
// "light" sends one request at a time; "saturated" keeps 32 in flight. Each reports the
// latency percentiles of the requests and their rate.
func BenchmarkDocuSignWebhook(b *testing.B) {
	bundle := setupDocuSign(b, store.Postgres)
	for _, kind := range []string{"Ingest", "Transition", "TransitionDebug"} {
		for _, load := range []struct {
			name     string
			inFlight int
		}{{"light", 1}, {"saturated", 32}} {
			b.Run(kind+"/"+load.name, func(b *testing.B) {
				// TransitionDebug: the same with the Webhook Receiver debug option on (every
				// step written to the Event Log and as span events).
				bundle.setDebug(b, kind == "TransitionDebug")
				kind := strings.TrimSuffix(kind, "Debug")
				var ids []string
				if kind == "Transition" {
					ids = seedWaiting(b, bundle, b.N)
				} else {
					for range b.N {
						ids = append(ids, uuid.NewString())
					}
				}
				event, status := "envelope-sent", "sent"
				if kind == "Transition" {
					event, status = "envelope-completed", "completed"
				}
				bodies := make([][]byte, b.N)
				for i, id := range ids {
					bodies[i] = simBody(event, status, id, bundle.fake.AccountID())
				}
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: load.inFlight}}
				defer client.CloseIdleConnections()
				lat := make([]time.Duration, b.N)
				var next atomic.Int64
				var failed atomic.Int64
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
							if code := postSigned(client, bundle.baseURL, bodies[i]); code != http.StatusOK {
								failed.Add(1)
							}
							lat[i] = time.Since(t0)
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				if failed.Load() > 0 {
					b.Fatalf("%d of %d notifications were not answered 200", failed.Load(), b.N)
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
				if kind == "Transition" {
					var moved int
					err := bundle.app.DB().SQL.QueryRow(`SELECT count(*) FROM instances WHERE external_id = ANY($1) AND status = 'COMPLETED'`, ids).Scan(&moved)
					if err != nil || moved != b.N {
						b.Fatalf("%d of %d instances completed (%v)", moved, b.N, err)
					}
				}
			})
		}
	}
}

// seedWaiting inserts n instances waiting in "sign" on coupled DocuSign envelopes, and returns
// the envelope ids.
func seedWaiting(b *testing.B, bundle docuSignBundle, n int) []string {
	b.Helper()
	ctx := context.Background()
	var workflowID, userID string
	if err := bundle.app.DB().SQL.QueryRowContext(ctx, `SELECT id FROM workflows WHERE id = $1`, bundle.workflowID).Scan(&workflowID); err != nil {
		b.Fatal(err)
	}
	if err := bundle.app.DB().SQL.QueryRowContext(ctx, `SELECT id FROM users ORDER BY id LIMIT 1`).Scan(&userID); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	var inst, items [][]any
	ids := make([]string, n)
	for i := range n {
		instID, itemID := uuid.MustParse(engine.NewIDAt(now)), uuid.MustParse(engine.NewIDAt(now))
		ids[i] = uuid.NewString()
		inst = append(inst, []any{instID, uuid.MustParse(workflowID), int32(1), "Contract signing", "sign", "WAITING_EXTERNAL",
			[]byte(`{"signer_name":"Ada","signer_email":"ada@example.com"}`), int64(2), uuid.MustParse(userID), "DOCUSIGN", ids[i], "", now, now})
		items = append(items, []any{itemID, instID, "sign", int64(2), "DOCUSIGN", ids[i], "WAITING", "", "", "", "", int64(1), now, now})
	}
	conn, err := bundle.app.DB().Pool.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"instances"}, []string{"id", "workflow_id", "version", "workflow_name", "state_key", "status",
		"form_data", "revision", "started_by", "provider", "external_id", "reason", "created_at", "updated_at"}, pgx.CopyFromRows(inst)); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"work_items"}, []string{"id", "instance_id", "state_key", "entered_revision", "provider", "external_id",
		"status", "provider_status", "outcome", "error", "traceparent", "revision", "created_at", "updated_at"}, pgx.CopyFromRows(items)); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE instances; ANALYZE work_items"); err != nil {
		b.Fatal(err)
	}
	return ids
}

var simSeq atomic.Int64

// simBody is a DocuSign Connect JSON SIM message, distinct per call.
func simBody(event, status, envelopeID, accountID string) []byte {
	at := time.Now().UTC().Add(time.Duration(simSeq.Add(1)) * time.Microsecond).Format("2006-01-02T15:04:05.0000000Z")
	return []byte(fmt.Sprintf(`{"event":%q,"apiVersion":"v2.1","uri":"/restapi/v2.1/accounts/%s/envelopes/%s","retryCount":0,`+
		`"configurationId":1,"generatedDateTime":%q,"data":{"accountId":%q,"envelopeId":%q,`+
		`"envelopeSummary":{"status":%q,"envelopeId":%q,"statusChangedDateTime":%q}}}`,
		event, accountID, envelopeID, at, accountID, envelopeID, status, envelopeID, at))
}

func postSigned(client *http.Client, baseURL string, body []byte) int {
	req, err := http.NewRequest(http.MethodPost, baseURL+"/webhooks/DocuSign", strings.NewReader(string(body)))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-DocuSign-Signature-1", docusignfake.Signature(body, testHMACKeys[1]))
	res, err := client.Do(req)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}
