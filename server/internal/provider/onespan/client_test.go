package onespan_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
	"github.com/flowhook/flowhook/server/internal/provider/onespan/onespanfake"
	"github.com/flowhook/flowhook/server/internal/provider/providertest"
)

var packageID = regexp.MustCompile(`^[A-Za-z0-9_-]{27}=$`)

func TestCreateSendsThePackageShape(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.request("wi_shape",
		engine.Party{Name: "Ada King Lovelace", Email: "ada@example.com", Anchor: "/sn1/",
			Box: &engine.Box{Page: 2, Left: 72, Top: 600, Width: 180, Height: 36}},
		engine.Party{Name: "Cher", Email: "cher@example.com", Anchor: "/sn2/"},
	)
	id, err := b.client.Create(t.Context(), req)
	require.NoError(t, err)
	require.Regexp(t, packageID, id)

	pkgs := b.fake.Packages()
	require.Len(t, pkgs, 1)
	got := pkgs[0]
	require.Equal(t, id, got.ID)
	require.True(t, strings.HasPrefix(got.ContentType, "multipart/form-data; boundary="), got.ContentType)
	require.Equal(t, "text/plain; charset=UTF-8", got.PayloadContentType)
	require.Len(t, got.Files, 1)
	require.Equal(t, "Contract wi_shape", got.Files[0].FileName, "the file part is named like its document, as the SDK does")
	require.Equal(t, "application/pdf", got.Files[0].ContentType)
	require.Equal(t, req.Document.Content, got.Files[0].Data)

	var payload map[string]any
	require.NoError(t, json.Unmarshal(got.Raw, &payload))
	role := func(n int, email, first, last string) map[string]any {
		id := fmt.Sprintf("Signer%d", n)
		return map[string]any{"id": id, "name": id, "type": "SIGNER", "index": float64(n),
			"signers": []any{map[string]any{"email": email, "firstName": first, "lastName": last}}}
	}
	want := map[string]any{
		"name":         "Contract wi_shape",
		"description":  "Please sign: wi_shape",
		"emailMessage": "Please sign: wi_shape",
		"type":         "PACKAGE",
		"status":       "SENT",
		"autocomplete": true,
		"language":     "en",
		"roles":        []any{role(1, "ada@example.com", "Ada King", "Lovelace"), role(2, "cher@example.com", "Cher", "Cher")},
		"documents": []any{map[string]any{
			"name":    "Contract wi_shape",
			"extract": true, // for the second signer's text anchor
			"approvals": []any{
				map[string]any{"role": "Signer1", "fields": []any{map[string]any{
					// The box in points × 1.3 (93.6 dpi pixels), rounded down; pages from 0.
					"type": "SIGNATURE", "subtype": "FULLNAME", "page": float64(1),
					"left": float64(93), "top": float64(780), "width": float64(234), "height": float64(46),
					"extract": false,
				}}},
				map[string]any{"role": "Signer2", "fields": []any{map[string]any{
					"type": "SIGNATURE", "subtype": "FULLNAME", "page": float64(0),
					"left": float64(0), "top": float64(0), "width": float64(200), "height": float64(50),
					"extract": false,
					"extractAnchor": map[string]any{
						"text": "/sn2/", "index": float64(0), "width": float64(200), "height": float64(50),
						"anchorPoint": "TOPLEFT", "characterIndex": float64(0), "leftOffset": float64(0), "topOffset": float64(0),
					},
				}}},
			},
		}},
		"data": map[string]any{"flowhook_work_item_id": "wi_shape", "flowhook_instance_id": "inst_wi_shape"},
	}
	require.Equal(t, want, payload)

	// The package was sent, and its callbacks reached the receiver with the callback key.
	st, ok := b.fake.State(id)
	require.True(t, ok)
	require.Equal(t, "SENT", st.Status)
	evs, errs := b.hook.Received()
	require.Empty(t, errs)
	require.Equal(t, []string{"PACKAGE_CREATE", "PACKAGE_ACTIVATE"}, b.hook.Types())
	for _, ev := range evs {
		require.Equal(t, id, ev.ExternalID)
		require.Equal(t, b.clock.Now(), ev.OccurredAt)
	}
}

func TestEveryRequestCarriesTheKeyAsIs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_auth")
	require.NoError(t, b.fake.Complete(id))
	_, err := b.client.Status(t.Context(), id)
	require.NoError(t, err)
	_, _, err = b.client.FindByWorkItem(t.Context(), "wi_auth", time.Time{})
	require.NoError(t, err)
	_, err = b.client.Download(t.Context(), id)
	require.NoError(t, err)
	require.NoError(t, b.client.RegisterCallback(t.Context(), b.hook.URL, callbackKey, nil))
	_, err = b.client.TestConnection(t.Context())
	require.NoError(t, err)

	reqs := b.fake.Requests()
	require.GreaterOrEqual(t, len(reqs), 6)
	for _, r := range reqs {
		require.Equal(t, []string{"Basic " + apiKey}, r.Header.Values("Authorization"), "%s %s: the key as is, not base64(user:pass)", r.Method, r.Path)
		require.Equal(t, http.StatusOK, r.Status, "%s %s", r.Method, r.Path)
		if strings.HasSuffix(r.Path, "/documents/zip") {
			require.Contains(t, r.Header.Get("Accept"), "*/*", "a download accepts what the server produces")
		} else {
			require.Equal(t, "application/json", r.Header.Get("Accept"), "%s %s", r.Method, r.Path)
		}
	}
}

func TestWrongAPIKeyIsPermanentAndReadable(t *testing.T) {
	t.Parallel()
	const wrong = "d3Jvbmcta2V5LXRoYXQtb25lc3Bhbi1kb2VzLW5vdC1rbm93"
	b := setup(t, func(c *setupConfig) { c.settings = func(s *onespan.Settings) { s.APIKey = wrong } })
	_, err := b.client.Create(t.Context(), b.request("wi_401"))
	pe := providerErr(t, err)
	require.ErrorIs(t, err, engine.ErrProviderPermanent)
	require.Equal(t, http.StatusUnauthorized, pe.HTTPStatus)
	require.Equal(t, "error.unauthorised.noUser", pe.Code)
	require.Contains(t, pe.Message, "OneSpan refused the API key")
	require.Contains(t, pe.Message, "the API key is missing or not valid")
	require.NotContains(t, err.Error(), wrong)
	require.Empty(t, b.waits.Waits(), "a 401 is not retried")
	require.Empty(t, b.fake.Packages())

	_, err = b.client.TestConnection(t.Context())
	require.Equal(t, http.StatusUnauthorized, providerErr(t, err).HTTPStatus)
}

func TestCreateValidatesBeforeSending(t *testing.T) {
	t.Parallel()
	b := setup(t)
	good := b.request("wi_valid")
	providertest.RequireInvalidRequests(t, b.client, good, []providertest.RequestCase{
		{Name: "no work item id", Edit: func(r *engine.WorkItemRequest) { r.WorkItemID = " " }, Paths: []string{"work_item_id"}},
		{Name: "work item id with a newline", Edit: func(r *engine.WorkItemRequest) { r.WorkItemID = "wi\n1" }, Paths: []string{"work_item_id"}},
		{Name: "no document", Edit: func(r *engine.WorkItemRequest) { r.Document = nil }, Paths: []string{"document"}},
		{Name: "an empty document", Edit: func(r *engine.WorkItemRequest) { r.Document = &engine.Document{Title: "Empty"} }, Paths: []string{"document"}},
		{Name: "not a PDF", Edit: func(r *engine.WorkItemRequest) {
			r.Document = &engine.Document{Title: "Zip", ContentType: "application/zip", Content: []byte("PK\x03\x04")}
		}, Paths: []string{"document"}},
		{Name: "no signers", Edit: func(r *engine.WorkItemRequest) { r.Parties = nil }, Paths: []string{"signers"}},
		{Name: "a signer without anything", Edit: func(r *engine.WorkItemRequest) { r.Parties = []engine.Party{{}} },
			Paths: []string{"signers[0].name", "signers[0].email", "signers[0].anchor"}},
		{Name: "a display-name email", Edit: func(r *engine.WorkItemRequest) { r.Parties[0].Email = "Ada <ada@example.com>" }, Paths: []string{"signers[0].email"}},
		{Name: "a bad box", Edit: func(r *engine.WorkItemRequest) {
			r.Parties[0].Box = &engine.Box{Page: 0, Left: -1, Top: 1, Width: 0, Height: 0.5}
		}, Paths: []string{"signers[0].box.page", "signers[0].box.left", "signers[0].box.width", "signers[0].box.height"}},
		{Name: "an infinite box", Edit: func(r *engine.WorkItemRequest) {
			r.Parties[0].Box = &engine.Box{Page: 1, Left: 1, Top: math.Inf(1), Width: 10, Height: 10}
		}, Paths: []string{"signers[0].box.top"}},
	})
	require.Empty(t, b.fake.Creates(), "nothing reaches OneSpan")

	// A box needs no anchor; an empty subject and title get defaults.
	req := good
	req.Parties = []engine.Party{{Name: "Ada Lovelace", Email: "ada@example.com", Box: &engine.Box{Page: 1, Left: 10, Top: 10, Width: 100, Height: 30}}}
	req.Subject = ""
	req.Document = &engine.Document{Title: " ", ContentType: "application/pdf", Content: good.Document.Content}
	_, err := b.client.Create(t.Context(), req)
	require.NoError(t, err)
	p := b.fake.Packages()[0].Package
	require.Equal(t, "Document", p.Name)
	require.Equal(t, "Document", p.Description)
	require.False(t, p.Documents[0].Extract, "no anchor, no extraction")
}

func TestBoxesArePixelsInsideThePage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A box flush with the bottom-right corner of a US Letter page (612 × 792 pt) stays inside
	// OneSpan's 795.6 × 1029.6 px page.
	corner := engine.Party{Name: "Ada Lovelace", Email: "ada@example.com", Box: &engine.Box{Page: 2, Left: 432, Top: 720, Width: 180, Height: 72}}
	_, err := b.client.Create(t.Context(), b.request("wi_corner", corner))
	require.NoError(t, err)
	f := b.fake.Packages()[0].Package.Documents[0].Approvals[0].Fields[0]
	require.Equal(t, onespanfake.Field{Type: "SIGNATURE", Subtype: "FULLNAME", Page: 1, Left: 561, Top: 936, Width: 234, Height: 93}, f)

	// Off the page, or on a page the document lacks: OneSpan's own refusal, permanent and readable.
	for name, box := range map[string]*engine.Box{
		"off the right edge": {Page: 1, Left: 600, Top: 10, Width: 100, Height: 30},
		"a third page":       {Page: 3, Left: 10, Top: 10, Width: 100, Height: 30},
	} {
		_, err := b.client.Create(t.Context(), b.request("wi_off", engine.Party{Name: "A B", Email: "a@example.com", Box: box}))
		pe := providerErr(t, err)
		require.True(t, pe.Permanent, name)
		require.Equal(t, http.StatusBadRequest, pe.HTTPStatus, name)
		require.Equal(t, "error.validation.invalidPageLocation", pe.Code, name)
		require.Equal(t, "ONESPAN: HTTP 400 error.validation.invalidPageLocation: Invalid position. Object placed outside of document page boundary.", err.Error(), name)
	}

	// An anchor the document does not contain is refused too.
	_, err = b.client.Create(t.Context(), b.request("wi_anchor", engine.Party{Name: "A B", Email: "a@example.com", Anchor: "/sn9/"}))
	require.Equal(t, "error.validation.extractAnchorNotFound", providerErr(t, err).Code)
	require.Empty(t, b.waits.Waits(), "a 400 is not retried")
}

func TestToPixels(t *testing.T) {
	t.Parallel()
	for pt, px := range map[float64]float64{0: 0, 1: 1, 10: 13, 72: 93, 100: 130, 612: 795, 792: 1029, 0.5: 0, 595.28: 773} {
		require.Equal(t, px, onespan.ToPixels(pt), "%v pt", pt)
	}
}

func TestSplitName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string][2]string{
		"Ada Lovelace":           {"Ada", "Lovelace"},
		"  Ada   King Lovelace ": {"Ada King", "Lovelace"},
		"Cher":                   {"Cher", "Cher"},
		"":                       {"", ""},
		"José María Núñez":       {"José María", "Núñez"},
	} {
		first, last := onespan.SplitName(name)
		require.Equal(t, want, [2]string{first, last}, name)
	}
}

// TestClient runs the client tests every REST provider shares against the fake: retries of
// 429 (a create's too, honouring Retry-After) and of idempotent 5xx, the retry cap, the
// context, a lost create answer and FindByWorkItem.
func TestClient(t *testing.T) {
	t.Parallel()
	providertest.RunClient(t, providertest.ClientHarness{
		System:     system,
		MaxRetries: onespan.MaxRetries,
		OpenStatus: "SENT",
		Codes: map[int]string{
			http.StatusTooManyRequests:     "error.tooManyRequests",
			http.StatusInternalServerError: "error.internal.default",
		},
		Open: func(t *testing.T, clock *providertest.Clock, wait providertest.WaitFunc) providertest.ClientAccount {
			b := setup(t, func(c *setupConfig) {
				c.clock = clock
				c.options = []onespan.Option{onespan.WithWait(wait)}
			})
			return providertest.ClientAccount{
				Client:  b.client,
				Request: func(id string) engine.WorkItemRequest { return b.request(id) },
				Fail: func(n, status int, retryAfter time.Duration) {
					b.fake.FailNextWith(n, onespanfake.Failure{Status: status, RetryAfter: retryAfter})
				},
				DropNextCreateResponse: b.fake.DropNextCreateResponse,
				Created: func() []string {
					var ids []string
					for _, p := range b.fake.Packages() {
						ids = append(ids, p.ID)
					}
					return ids
				},
			}
		},
	})
}

// A 5xx whose body is not OneSpan's (a load balancer's page) is retried like any other and
// reported with its status text.
func TestServerErrorWithoutOneSpansBody(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_502")
	b.fake.FailNextWith(onespan.MaxRetries+1, onespanfake.Failure{Status: http.StatusBadGateway, RawBody: "<html>Bad Gateway</html>"})
	_, err := b.client.Status(t.Context(), id)
	pe := providerErr(t, err)
	require.False(t, pe.Permanent)
	require.Equal(t, http.StatusBadGateway, pe.HTTPStatus)
	require.Equal(t, "", pe.Code)
	require.Equal(t, "Bad Gateway", pe.Message)
	require.Equal(t, 8*time.Second, pe.RetryAfter, "the backoff it would wait next")
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, b.waits.Waits())
}

// A 500 of a create is not retried, and its message is OneSpan's.
func TestServerErrorOfACreateSaysWhatOneSpanSaid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fake.FailNext(1, http.StatusInternalServerError)
	_, err := b.client.Create(t.Context(), b.request("wi_5xx_create"))
	require.Contains(t, providerErr(t, err).Message, "Unexpected error")
	require.Empty(t, b.fake.Packages())
}

func TestStatusMapsOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		drive   func(f *onespanfake.Fake, id string) error
		status  string
		outcome engine.Outcome
		reason  string
		event   string // the last callback
	}{
		{"sent", func(*onespanfake.Fake, string) error { return nil }, "SENT", engine.OutcomeUnspecified, "", "PACKAGE_ACTIVATE"},
		{"one of two signed", func(f *onespanfake.Fake, id string) error { return f.Sign(id) }, "SENT", engine.OutcomeUnspecified, "", "SIGNER_COMPLETE"},
		{"completed", func(f *onespanfake.Fake, id string) error { return f.Complete(id) }, "COMPLETED", engine.OutcomeFinished, "", "PACKAGE_COMPLETE"},
		{"declined", func(f *onespanfake.Fake, id string) error { return f.Decline(id, "The amount is wrong.") },
			"DECLINED", engine.OutcomeDenied, "The amount is wrong.", "PACKAGE_DECLINE"},
		{"opted out", func(f *onespanfake.Fake, id string) error { return f.OptOut(id, "I sign on paper.") },
			"OPTED_OUT", engine.OutcomeDenied, "I sign on paper.", "PACKAGE_OPT_OUT"},
		{"expired", func(f *onespanfake.Fake, id string) error { return f.Expire(id) }, "EXPIRED", engine.OutcomeExpired, "", "PACKAGE_EXPIRE"},
		{"archived while waiting", func(f *onespanfake.Fake, id string) error { return f.Archive(id) }, "ARCHIVED", engine.OutcomeDeleted, "", "PACKAGE_ARCHIVE"},
		{"archived after completion", func(f *onespanfake.Fake, id string) error {
			return errors.Join(f.Complete(id), f.Archive(id))
		}, "ARCHIVED", engine.OutcomeFinished, "", "PACKAGE_ARCHIVE"},
		{"trashed while waiting", func(f *onespanfake.Fake, id string) error { return f.Trash(id) }, onespan.StatusTrashed, engine.OutcomeDeleted, "", "PACKAGE_TRASH"},
		{"trashed after completion", func(f *onespanfake.Fake, id string) error {
			return errors.Join(f.Complete(id), f.Trash(id))
		}, "COMPLETED", engine.OutcomeFinished, "", "PACKAGE_TRASH"},
		{"deleted", func(f *onespanfake.Fake, id string) error { return f.Delete(id) }, onespan.StatusDeleted, engine.OutcomeDeleted, "", "PACKAGE_DELETE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			id := b.create(t, "wi_status",
				engine.Party{Name: "Ada Lovelace", Email: "ada@example.com", Anchor: "/sn1/"},
				engine.Party{Name: "Bob Babbage", Email: "bob@example.com", Anchor: "/sn2/"})
			changed := b.clock.Now()
			b.clock.Advance(3 * time.Hour)
			require.NoError(t, tc.drive(b.fake, id))
			if tc.name != "sent" {
				changed = b.clock.Now()
			}
			eventAt := changed
			if tc.status == onespan.StatusDeleted {
				changed = time.Time{} // nothing left to say when
			}
			st, err := b.client.Status(t.Context(), id)
			require.NoError(t, err)
			// Archived while waiting: the status hides what came before.
			concealed := tc.name == "archived while waiting"
			require.Equal(t, engine.ExternalStatus{Status: tc.status, Outcome: tc.outcome, Reason: tc.reason, ChangedAt: changed, Concealed: concealed}, st)

			// The callback said so too, with its time; DefaultOutcome agrees with Status
			// except where only the read-back can tell (a finished package archived or trashed).
			evs, errs := b.hook.Received()
			require.Empty(t, errs)
			last := evs[len(evs)-1]
			require.Equal(t, tc.event, last.Type)
			require.Equal(t, id, last.ExternalID)
			require.Equal(t, eventAt, last.OccurredAt)
			require.Empty(t, last.Reason, "OneSpan's decline callback carries no reason: it is read back")
			outcome, terminal := onespan.DefaultOutcome(last.Type, last.Reason)
			if !strings.Contains(tc.name, "after completion") {
				require.Equal(t, tc.outcome, outcome)
				require.Equal(t, tc.outcome != engine.OutcomeUnspecified, terminal)
			}

			// Reconciliation feeds StatusEvent(st) through the pipeline, where the read-back
			// (this same status) must confirm it: the same outcome, or one the status conceals.
			// Until session 43 a package completed then archived became PACKAGE_ARCHIVE
			// (DELETED), never confirmed, and the instance waited for good.
			event := onespan.StatusEvent(st)
			reconciled, _ := onespan.DefaultOutcome(event, "")
			if !concealed {
				require.Equal(t, st.Outcome, reconciled, "%s for %+v", event, st)
			}
			if tc.status == onespan.StatusTrashed {
				require.Equal(t, "PACKAGE_TRASH", event, "as the callback, so that a state's override of it applies")
			}
		})
	}
}

func TestStatusOnlyTakesOneSpans404ForADeletion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	st, err := b.client.Status(t.Context(), "LWsUTvGgE4WpOvaQPT16idnxNj8=")
	require.NoError(t, err)
	require.Equal(t, engine.ExternalStatus{Status: onespan.StatusDeleted, Outcome: engine.OutcomeDeleted}, st)

	// A 404 without OneSpan's error body (a wrong base URL, a proxy) is an error, not a deletion.
	id := b.create(t, "wi_bare404")
	b.fake.FailNextWith(1, onespanfake.Failure{Status: http.StatusNotFound, RawBody: "<h1>Not Found</h1>"})
	_, err = b.client.Status(t.Context(), id)
	pe := providerErr(t, err)
	require.Equal(t, http.StatusNotFound, pe.HTTPStatus)
	require.True(t, pe.Permanent)
}

func TestIDsAreCheckedAndEscaped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	n := len(b.fake.Requests())
	for _, bad := range []string{"", "..", "../../callback", "a/b=", "a b=", "id?x=1", "é=", strings.Repeat("a", 256)} {
		_, err := b.client.Status(t.Context(), bad)
		require.ErrorIs(t, err, engine.ErrProviderPermanent, bad)
		require.ErrorIs(t, b.client.Cancel(t.Context(), bad, "x"), engine.ErrProviderPermanent, bad)
		_, err = b.client.Download(t.Context(), bad)
		require.ErrorIs(t, err, engine.ErrProviderPermanent, bad)
	}
	require.Len(t, b.fake.Requests(), n, "no bad id reaches a URL")

	// Real ids have '=', '-' and '_'; each reaches the path intact.
	for _, id := range []string{"xT9OeZ-j2jIynQBaLeLdgp9CtZk=", "ab_cd+ef="} {
		_, err := b.client.Status(t.Context(), id)
		require.NoError(t, err)
		reqs := b.fake.Requests()
		last := reqs[len(reqs)-1]
		require.Equal(t, "/api/packages/"+id, last.Path)
		require.Equal(t, "/api/packages/"+url.PathEscape(id), last.EscapedPath)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_cancel")
	require.NoError(t, b.client.Cancel(t.Context(), id, "Workflow cancelled"))
	st, err := b.client.Status(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, engine.OutcomeDeleted, st.Outcome)
	require.Equal(t, []string{"PACKAGE_CREATE", "PACKAGE_ACTIVATE", "PACKAGE_DELETE"}, b.hook.Types())
	require.Equal(t, 1, b.fake.CountRequests(http.MethodDelete, "/api/packages/"+id))

	// Again: the package is gone already, which is what was asked.
	require.NoError(t, b.client.Cancel(t.Context(), id, "again"))
	require.Equal(t, 1, b.fake.CountRequests(http.MethodDelete, "/api/packages/"+id))

	// A trashed package still waiting is deleted as well.
	trashed := b.create(t, "wi_cancel_trashed")
	require.NoError(t, b.fake.Trash(trashed))
	require.NoError(t, b.client.Cancel(t.Context(), trashed, "x"))
	gone, known := b.fake.State(trashed)
	require.True(t, known)
	require.True(t, gone.Deleted)

	// A package that finished is never deleted: its signed document stays.
	for name, finish := range map[string]func(string) error{
		"completed": b.fake.Complete,
		"declined":  func(id string) error { return b.fake.Decline(id, "no") },
		"expired":   b.fake.Expire,
	} {
		id := b.create(t, "wi_cancel_"+name)
		require.NoError(t, finish(id))
		err := b.client.Cancel(t.Context(), id, "too late")
		pe := providerErr(t, err)
		require.True(t, pe.Permanent, name)
		require.Contains(t, pe.Message, "only a DRAFT or SENT package is deleted", name)
		st, ok := b.fake.State(id)
		require.True(t, ok)
		require.False(t, st.Deleted, name)
		require.Zero(t, b.fake.CountRequests(http.MethodDelete, "/api/packages/"+id), name)
	}

	// Cancel's read and DELETE are idempotent: a transient failure is retried.
	id = b.create(t, "wi_cancel_retry")
	before := len(b.waits.Waits())
	b.fake.FailNext(1, http.StatusServiceUnavailable)
	require.NoError(t, b.client.Cancel(t.Context(), id, "x"))
	require.Len(t, b.waits.Waits(), before+1)
}

func TestDownload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.request("wi_download")
	id, err := b.client.Create(t.Context(), req)
	require.NoError(t, err)
	require.NoError(t, b.fake.Complete(id))
	zipped, err := b.client.Download(t.Context(), id)
	require.NoError(t, err)

	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	require.NoError(t, err)
	require.Len(t, zr.File, 1)
	require.Equal(t, "Contract wi_download.pdf", zr.File[0].Name)
	rc, err := zr.File[0].Open()
	require.NoError(t, err)
	pdf, err := io.ReadAll(rc)
	require.NoError(t, rc.Close())
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(pdf, req.Document.Content), "the uploaded PDF, then the signatures")
	require.Contains(t, string(pdf), "signed by ada@example.com")

	// One document as PDF.
	st, _ := b.fake.State(id)
	one, err := b.client.DownloadPDF(t.Context(), id, st.DocumentIDs[0])
	require.NoError(t, err)
	require.Equal(t, pdf, one)
	_, err = b.client.DownloadPDF(t.Context(), id, "../zip")
	require.ErrorIs(t, err, engine.ErrProviderPermanent)

	small := setup(t, func(c *setupConfig) { c.options = []onespan.Option{onespan.WithMaxDocumentSize(100)} })
	id = small.create(t, "wi_download_big")
	_, err = small.client.Download(t.Context(), id)
	pe := providerErr(t, err)
	require.True(t, pe.Permanent)
	require.Contains(t, pe.Message, "larger than 100 bytes")
}

// The package listing FindByWorkItem reads is the inbox, newest first, from five minutes
// before since (clock skew) to a day ahead. RunClient checks what it finds.
func TestFindByWorkItemQuery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := b.clock.Now()
	b.clock.Advance(time.Minute)
	id := b.create(t, "wi_find")
	got, found, err := b.client.FindByWorkItem(t.Context(), "wi_find", start)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, id, got)

	var list []onespanfake.Request
	for _, r := range b.fake.Requests() {
		if r.Method == http.MethodGet && r.Path == "/api/packages" {
			list = append(list, r)
		}
	}
	require.Len(t, list, 1)
	q, err := url.ParseQuery(list[0].Query)
	require.NoError(t, err)
	require.Equal(t, url.Values{
		"query": {"inbox"}, "from": {"1"}, "to": {"100"}, "sort": {"updated"}, "dir": {"desc"},
		"lastUpdatedStartDate": {"2026-04-29T17:55:00Z"}, // since less five minutes of clock skew
		"lastUpdatedEndDate":   {"2026-04-30T18:01:00Z"},
	}, q)
}

func TestFindByWorkItemPages(t *testing.T) {
	t.Parallel()
	t.Run("across pages, the earliest created wins", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *setupConfig) { c.options = []onespan.Option{onespan.WithListPaging(2, 10)} })
		since := b.clock.Now()
		first := b.create(t, "wi_paged")
		b.clock.Advance(time.Second)
		b.create(t, "wi_paged") // a duplicate created after a lost answer
		for i := range 4 {
			b.clock.Advance(time.Second)
			b.create(t, fmt.Sprintf("wi_noise_%d", i))
		}
		got, found, err := b.client.FindByWorkItem(t.Context(), "wi_paged", since)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, first, got)
		require.Equal(t, 3, b.fake.CountRequests(http.MethodGet, "/api/packages"), "six packages, two per page")
	})
	t.Run("the page limit is not taken for not found", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *setupConfig) { c.options = []onespan.Option{onespan.WithListPaging(1, 2)} })
		since := b.clock.Now()
		b.create(t, "wi_buried")
		for i := range 3 {
			b.clock.Advance(time.Second)
			b.create(t, fmt.Sprintf("wi_newer_%d", i))
		}
		_, found, err := b.client.FindByWorkItem(t.Context(), "wi_buried", since)
		require.False(t, found)
		pe := providerErr(t, err)
		require.False(t, pe.Permanent, "worth another look later, not a create")
		require.Contains(t, pe.Message, "more than 2 packages changed")
		require.Equal(t, 2, b.fake.CountRequests(http.MethodGet, "/api/packages"))
	})
	t.Run("a listing without data attributes", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.SetListOmitsData(true)
		since := b.clock.Now()
		id := b.create(t, "wi_nodata")
		b.create(t, "wi_nodata_other")
		got, found, err := b.client.FindByWorkItem(t.Context(), "wi_nodata", since)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, id, got)
		require.Equal(t, 1, b.fake.CountRequests(http.MethodGet, "/api/packages/"+id), "read one by one")
	})
}

func TestRegisterCallback(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.fake = func(o *onespanfake.Options) { o.CallbackURL = "" } })
	cb, err := b.client.GetCallback(t.Context())
	require.NoError(t, err)
	require.Equal(t, onespan.Callback{}, cb, "none registered yet")

	require.NoError(t, b.client.RegisterCallback(t.Context(), b.hook.URL, callbackKey, nil))
	reg, ok := b.fake.RegisteredCallback()
	require.True(t, ok)
	require.Equal(t, onespanfake.Callback{URL: b.hook.URL, Key: callbackKey, Events: onespan.CallbackEvents}, reg)
	cb, err = b.client.GetCallback(t.Context())
	require.NoError(t, err)
	require.Equal(t, onespan.Callback{URL: b.hook.URL, Key: callbackKey, Events: onespan.CallbackEvents}, cb)
	require.NotContains(t, cb.String(), callbackKey)

	// Only the registered events arrive: no PACKAGE_CREATE, which flowhook does not ask for.
	id := b.create(t, "wi_registered")
	require.NoError(t, b.fake.Complete(id))
	require.Equal(t, []string{"PACKAGE_ACTIVATE", "DOCUMENT_SIGNED", "SIGNER_COMPLETE", "PACKAGE_COMPLETE"}, b.hook.Types())

	// OneSpan's spelling is PACKAGE_DELETE: it refuses the other one.
	err = b.client.RegisterCallback(t.Context(), b.hook.URL, callbackKey, []string{"PACKAGE_DELETED"})
	pe := providerErr(t, err)
	require.True(t, pe.Permanent)
	require.Equal(t, "error.validation.callbackEvent", pe.Code)

	for name, call := range map[string]func() error{
		"relative url": func() error { return b.client.RegisterCallback(t.Context(), "/webhooks/OneSpan", "k", nil) },
		"no events":    func() error { return b.client.RegisterCallback(t.Context(), b.hook.URL, "k", []string{}) },
		"key with a newline": func() error {
			return b.client.RegisterCallback(t.Context(), b.hook.URL, "k\nX-Evil: 1", nil)
		},
	} {
		require.ErrorIs(t, call(), engine.ErrProviderPermanent, name)
	}
	require.Equal(t, 2, b.fake.CountRequests(http.MethodPost, "/api/callback"), "invalid registrations never leave")
}

func TestTestConnection(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.fake = func(o *onespanfake.Options) { o.CallbackURL = "" } })
	info, err := b.client.TestConnection(t.Context())
	require.NoError(t, err)
	require.Equal(t, onespan.ConnectionInfo{APIRoot: b.url + "/api"}, info)

	b.create(t, "wi_conn")
	require.NoError(t, b.client.RegisterCallback(t.Context(), b.hook.URL, callbackKey, []string{"PACKAGE_COMPLETE"}))
	info, err = b.client.TestConnection(t.Context())
	require.NoError(t, err)
	require.Equal(t, onespan.ConnectionInfo{
		APIRoot: b.url + "/api", InboxPackages: 1,
		CallbackURL: b.hook.URL, CallbackEvents: []string{"PACKAGE_COMPLETE"}, CallbackKeySet: true,
	}, info)
	require.Equal(t, b.url+"/api", b.client.APIRoot())
}

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	valid := onespan.Settings{BaseURL: onespan.SandboxUS2BaseURL, APIKey: apiKey, CallbackKeys: []string{callbackKey, callbackKeyOld}}
	require.NoError(t, valid.Validate())
	for _, u := range []string{"", onespan.ProductionUS2BaseURL, onespan.ProductionCABaseURL, "http://127.0.0.1:8080", "https://sandbox.esignlive.com/"} {
		s := valid
		s.BaseURL = u
		require.NoError(t, s.Validate(), u)
	}
	s := valid
	s.CallbackKeys = nil
	require.NoError(t, s.Validate(), "callback keys are optional for the API client")

	require.Equal(t, []string{"api_key"}, providertest.ProblemPaths(t, onespan.Settings{}.Validate()))
	bad := onespan.Settings{
		BaseURL:      "sandbox.esignlive.com",
		APIKey:       " " + apiKey,
		CallbackKeys: []string{callbackKey, "", "tab\tkey", "ключ"},
	}
	require.Equal(t, []string{"base_url", "api_key", "callback_keys[1]", "callback_keys[2]", "callback_keys[3]"}, providertest.ProblemPaths(t, bad.Validate()))
	for _, u := range []string{"ftp://sandbox.esignlive.com", "https://", "https://u:p@host", "https://host?x=1", "https://host#f", "::"} {
		s := valid
		s.BaseURL = u
		require.Equal(t, []string{"base_url"}, providertest.ProblemPaths(t, s.Validate()), u)
	}
	s = valid
	s.APIKey = strings.Repeat("k", 1025)
	require.Equal(t, []string{"api_key"}, providertest.ProblemPaths(t, s.Validate()))

	_, err := onespan.NewClient(bad, nil, nil)
	require.True(t, errors.As(err, new(*engine.ValidationError)))

	// The default host, and a base URL given with its /api.
	c, err := onespan.NewClient(onespan.Settings{APIKey: apiKey}, nil, nil)
	require.NoError(t, err)
	require.Equal(t, "https://sandbox.esignlive.com/api", c.APIRoot())
	c, err = onespan.NewClient(onespan.Settings{APIKey: apiKey, BaseURL: "https://apps.esignlive.eu/api/"}, nil, nil)
	require.NoError(t, err)
	require.Equal(t, "https://apps.esignlive.eu/api", c.APIRoot())
}

func TestNoSecretInErrorsOrFormatting(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "wi_secret")
	var errs []error
	b.fake.FailNextWith(1, onespanfake.Failure{Status: http.StatusUnauthorized, MessageKey: "error.unauthorised.noUser",
		Message: "No user for key " + apiKey}) // a server that echoes the key
	_, err := b.client.Status(t.Context(), id)
	errs = append(errs, err)
	b.fake.FailNext(4, http.StatusTooManyRequests)
	_, err = b.client.Download(t.Context(), id)
	errs = append(errs, err)
	errs = append(errs, onespan.Verify(http.Header{"Authorization": {"Basic wrong"}}, []string{callbackKey}))
	b.fake.DropNextCreateResponse()
	_, err = b.client.Create(t.Context(), b.request("wi_secret_lost"))
	errs = append(errs, err)

	texts := []string{fmt.Sprint(b.settings), fmt.Sprintf("%+v", b.settings), fmt.Sprintf("%#v", b.settings),
		fmt.Sprint(onespan.Callback{URL: "https://x", Key: callbackKey})}
	for _, err := range errs {
		require.Error(t, err)
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
	}
	for _, s := range texts {
		require.NotContains(t, s, apiKey)
		require.NotContains(t, s, callbackKey)
	}
	require.Contains(t, errs[0].Error(), "[redacted]")
	require.Contains(t, fmt.Sprint(b.settings), "[redacted]")
}
