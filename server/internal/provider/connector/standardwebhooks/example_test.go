package standardwebhooks_test

import (
	"fmt"
	"net/http"
	"time"

	swh "github.com/flowhook/flowhook/server/internal/provider/connector/standardwebhooks"
)

// A sender sets the three headers; the receiver verifies them against its clock, before it
// parses the body.
func Example() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"test": 2432232314}`)
	sent := time.Unix(1614265330, 0)

	h := http.Header{}
	if err := swh.SetHeaders(h, []string{secret}, "msg_p5jXN8AQM9LWM0D4loKWxJek", sent, body); err != nil {
		panic(err)
	}
	fmt.Println(h.Get(swh.HeaderSignature))

	fmt.Println(swh.Verify([]string{secret}, h, body, sent.Add(time.Minute), swh.DefaultTolerance))
	fmt.Println(swh.Verify([]string{secret}, h, body, sent.Add(time.Hour), swh.DefaultTolerance))
	// Output:
	// v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
	// <nil>
	// standardwebhooks: webhook-timestamp outside the tolerance: sent 3600s ago, tolerance 5m0s
}
