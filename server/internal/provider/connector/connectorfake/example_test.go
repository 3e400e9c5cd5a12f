package connectorfake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/flowhook/flowhook/server/internal/provider/connector/connectorfake"
	"github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
)

// The protocol from flowhook's side: a signed create, and the system's signed events arriving
// at the callbackUrl.
func Example() {
	fake := connectorfake.New(connectorfake.Options{})
	system := httptest.NewServer(fake.Handler())
	defer system.Close()
	secret := fake.Secrets()[0] // what the connector is configured with

	// flowhook's webhook endpoint verifies before it parses.
	webhook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := standardwebhooks.Verify([]string{secret}, r.Header, body, time.Now(), 0); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev connectorfake.Event
		_ = json.Unmarshal(body, &ev)
		fmt.Printf("event: %s %s %q\n", ev.Type, ev.Data.ID, ev.Data.Reason)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer webhook.Close()

	body := []byte(`{"type":"workitem.create","timestamp":"2026-05-04T09:00:00Z","data":{` +
		`"workItemId":"wi_1","instanceId":"in_1","workflowId":"wf_1","workflowVersion":1,` +
		`"state":"REVIEW","formData":{"amount":10},"callbackUrl":"` + webhook.URL + `"}}`)
	req, _ := http.NewRequest(http.MethodPost, connectorfake.CreateURL(system.URL), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "wi_1")
	if err := standardwebhooks.SetHeaders(req.Header, []string{secret}, "create_wi_1", time.Now(), body); err != nil {
		panic(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	var created struct {
		ID string `json:"id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	fmt.Println("created:", resp.StatusCode, created.ID)

	_ = fake.Approve(created.ID, "within budget")
	fmt.Println("outcome:", connectorfake.Outcomes[connectorfake.TypeApproved])
	// Output:
	// event: ticket.created TCK-1 ""
	// created: 201 TCK-1
	// event: ticket.approved TCK-1 "within budget"
	// outcome: APPROVED
}
