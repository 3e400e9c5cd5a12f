package onespan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/rest"
)

// The package's free data attributes that carry flowhook's ids.
const (
	WorkItemIDAttribute = "flowhook_work_item_id"
	InstanceIDAttribute = "flowhook_instance_id"
)

// Field placement.
const (
	// PixelsPerPoint converts the renderer's PDF points to OneSpan's field units. OneSpan's
	// document engine renders pages at 93.6 dpi (a US Letter page is 796 × 1030 px) and takes
	// field positions in those pixels, from the page's top-left corner: 93.6/72 = 1.3. Source:
	// OneSpan staff answers on community.onespan.com (UNCONFIRMED against the API reference).
	PixelsPerPoint = 93.6 / 72
	// AnchorFieldWidth and AnchorFieldHeight size a field placed by a text anchor, in pixels
	// (OneSpan's documented defaults for a text anchor's size).
	AnchorFieldWidth  = 200
	AnchorFieldHeight = 50
)

// StatusDeleted is the Status a deleted package (GET answers 404) reports.
const StatusDeleted = "DELETED"

// StatusTrashed is the Status a trashed package reports while it has no terminal status.
const StatusTrashed = "TRASHED"

const (
	defaultDocTitle = "Document"
	maxName         = 255 // UNCONFIRMED: OneSpan's limit on a package or document name
	maxAttribute    = 255 // our own limit on the ids kept in data
	maxIDLength     = 255 // packageId is at most 255 characters (providers.md B6)
	// findLookback is how far FindByWorkItem looks back when it is given no time.
	findLookback = 30 * 24 * time.Hour
	// clockSkew widens FindByWorkItem's window, since lastUpdatedStartDate is OneSpan's clock.
	clockSkew = 5 * time.Minute
	// maxDetailReads bounds the packages FindByWorkItem reads one by one when a listing leaves
	// out their data attributes.
	maxDetailReads = 20
	listDateLayout = "2006-01-02T15:04:05Z" // the SDK's DateHelper.dateToIsoUtcFormat
)

// The Package JSON of a create (providers.md B3); field names as in OneSpan's OpenAPI schema.
type packagePayload struct {
	Name         string            `json:"name"`
	Description  string            `json:"description"`
	EmailMessage string            `json:"emailMessage"`
	Type         string            `json:"type"`
	Status       string            `json:"status"`
	Autocomplete bool              `json:"autocomplete"`
	Language     string            `json:"language"`
	Roles        []role            `json:"roles"`
	Documents    []document        `json:"documents"`
	Data         map[string]string `json:"data"`
}

type role struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Index   int      `json:"index"`
	Signers []signer `json:"signers"`
}

type signer struct {
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
}

type document struct {
	Name string `json:"name"`
	// Extract enables text-anchor extraction for the document; it is needed when a field is
	// placed by extractAnchor (the SDK's enableExtraction()).
	Extract   bool       `json:"extract"`
	Approvals []approval `json:"approvals"`
}

type approval struct {
	Role   string  `json:"role"`
	Fields []field `json:"fields"`
}

type field struct {
	Type    string  `json:"type"`
	Subtype string  `json:"subtype"`
	Page    int     `json:"page"`
	Left    float64 `json:"left"`
	Top     float64 `json:"top"`
	Width   float64 `json:"width"`
	Height  float64 `json:"height"`
	// Extract is OneSpan's position extraction from a PDF form field: never used here (a text
	// anchor keeps it false, as the SDK does).
	Extract       bool           `json:"extract"`
	ExtractAnchor *extractAnchor `json:"extractAnchor,omitempty"`
}

type extractAnchor struct {
	Text           string `json:"text"`
	Index          int    `json:"index"`
	Width          int    `json:"width"`
	Height         int    `json:"height"`
	AnchorPoint    string `json:"anchorPoint"`
	CharacterIndex int    `json:"characterIndex"`
	LeftOffset     int    `json:"leftOffset"`
	TopOffset      int    `json:"topOffset"`
}

// RoleID is the id of the role of the signer at index i (from 0): Signer1, Signer2, …
func RoleID(i int) string { return "Signer" + strconv.Itoa(i+1) }

// SplitName splits a signer's name into OneSpan's firstName and lastName, neither of which may
// be empty: the last word is the last name and the words before it the first name; a name of
// one word is both.
func SplitName(name string) (first, last string) {
	words := strings.Fields(name)
	switch len(words) {
	case 0:
		return "", ""
	case 1:
		return words[0], words[0]
	}
	return strings.Join(words[:len(words)-1], " "), words[len(words)-1]
}

// toPixels converts PDF points to OneSpan's pixels, rounded down so that a box touching the
// page's edge stays inside it.
func toPixels(points float64) float64 {
	return math.Floor(points*PixelsPerPoint + 1e-9)
}

func documentTitle(req engine.WorkItemRequest) string {
	title := ""
	if req.Document != nil {
		title = strings.TrimSpace(req.Document.Title)
	}
	if title == "" {
		title = defaultDocTitle
	}
	return truncate(title, maxName)
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// packageFor builds the package of a work item: one SIGNER role per party in signing order,
// one document with one signature per role, placed by the party's box or else by its anchor
// text, and flowhook's ids in the package's data.
func packageFor(req engine.WorkItemRequest) packagePayload {
	title := documentTitle(req)
	subject := strings.TrimSpace(req.Subject)
	if subject == "" {
		subject = title
	}
	doc := document{Name: title}
	roles := make([]role, len(req.Parties))
	for i, p := range req.Parties {
		id := RoleID(i)
		first, last := SplitName(p.Name)
		roles[i] = role{
			ID: id, Name: id, Type: "SIGNER", Index: i + 1,
			Signers: []signer{{Email: strings.TrimSpace(p.Email), FirstName: first, LastName: last}},
		}
		f := field{Type: "SIGNATURE", Subtype: "FULLNAME"}
		if b := p.Box; b != nil {
			f.Page = b.Page - 1 // OneSpan counts pages from 0
			f.Left, f.Top = toPixels(b.Left), toPixels(b.Top)
			f.Width, f.Height = toPixels(b.Width), toPixels(b.Height)
		} else {
			f.Width, f.Height = AnchorFieldWidth, AnchorFieldHeight
			f.ExtractAnchor = &extractAnchor{
				Text: p.Anchor, Index: 0, Width: AnchorFieldWidth, Height: AnchorFieldHeight,
				AnchorPoint: "TOPLEFT", CharacterIndex: 0, LeftOffset: 0, TopOffset: 0,
			}
			doc.Extract = true
		}
		doc.Approvals = append(doc.Approvals, approval{Role: id, Fields: []field{f}})
	}
	data := map[string]string{WorkItemIDAttribute: req.WorkItemID}
	if req.InstanceID != "" {
		data[InstanceIDAttribute] = truncate(req.InstanceID, maxAttribute)
	}
	return packagePayload{
		Name:         title,
		Description:  subject,
		EmailMessage: subject,
		Type:         "PACKAGE",
		Status:       "SENT",
		Autocomplete: true,
		Language:     "en",
		Roles:        roles,
		Documents:    []document{doc},
		Data:         data,
	}
}

// validateRequest finds what OneSpan would refuse, before anything is sent.
func validateRequest(req engine.WorkItemRequest) error {
	var ps engine.Problems
	switch {
	case strings.TrimSpace(req.WorkItemID) == "":
		ps.Add("work_item_id", "is required")
	case utf8.RuneCountInString(req.WorkItemID) > maxAttribute || !printable(req.WorkItemID):
		ps.Add("work_item_id", "must be printable text of at most %d characters", maxAttribute)
	}
	switch {
	case req.Document == nil || len(req.Document.Content) == 0:
		ps.Add("document", "is required")
	case !bytes.HasPrefix(req.Document.Content, []byte("%PDF-")):
		ps.Add("document", "is not a PDF")
	}
	if len(req.Parties) == 0 {
		ps.Add("signers", "at least one signer is required")
	}
	for i, p := range req.Parties {
		path := fmt.Sprintf("signers[%d]", i)
		if strings.TrimSpace(p.Name) == "" {
			ps.Add(path+".name", "is required: OneSpan needs a first and a last name")
		}
		email := strings.TrimSpace(p.Email)
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
			ps.Add(path+".email", "must be an email address")
		}
		switch b := p.Box; {
		case b != nil:
			if b.Page < 1 {
				ps.Add(path+".box.page", "must be 1 or more (pages count from 1)")
			}
			for _, v := range []struct {
				name     string
				v        float64
				positive bool
			}{{"left", b.Left, false}, {"top", b.Top, false}, {"width", b.Width, true}, {"height", b.Height, true}} {
				switch {
				case math.IsNaN(v.v) || math.IsInf(v.v, 0) || v.v > 1e6:
					ps.Add(path+".box."+v.name, "must be a finite number of points")
				case v.positive && toPixels(v.v) < 1:
					ps.Add(path+".box."+v.name, "must be positive (at least one pixel)")
				case v.v < 0:
					ps.Add(path+".box."+v.name, "must not be negative")
				}
			}
		case strings.TrimSpace(p.Anchor) == "":
			ps.Add(path+".anchor", "is required when there is no box: it places the signature")
		case !printable(p.Anchor) || utf8.RuneCountInString(p.Anchor) > maxName:
			ps.Add(path+".anchor", "must be printable text of at most %d characters", maxName)
		}
	}
	if err := ps.Err(); err != nil {
		return fmt.Errorf("onespan: %w: %w", engine.ErrProviderPermanent, err)
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// multipartBody is the one-step create (providers.md B3): a "payload" part with the Package
// JSON as text/plain; charset=UTF-8, and one "file" part per document, in documents' order,
// named like the document (as the Java SDK does).
func multipartBody(payload []byte, fileName string, pdf []byte) ([]byte, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="payload"`)
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	w, err := mw.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if _, err := w.Write(payload); err != nil {
		return nil, "", err
	}
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+dispositionName(fileName)+`"`)
	h.Set("Content-Type", "application/pdf")
	if w, err = mw.CreatePart(h); err != nil {
		return nil, "", err
	}
	if _, err := w.Write(pdf); err != nil {
		return nil, "", err
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// dispositionName keeps a file name safe inside a quoted Content-Disposition parameter on any
// parser: quotes, backslashes and control characters become "_"; other UTF-8 stays as is, as
// browsers send it.
func dispositionName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || unicode.IsControl(r) || r == utf8.RuneError {
			return '_'
		}
		return r
	}, s)
}

// Create creates and sends the work item's package in one multipart POST (providers.md B3) and
// returns its id. A 429 is retried; a 5xx or a lost answer is not, since the package may exist:
// the caller looks for it with FindByWorkItem before creating again. The request's CallbackURL
// is not sent: OneSpan's callback is one per account (RegisterCallback).
func (c *Client) Create(ctx context.Context, req engine.WorkItemRequest) (string, error) {
	if err := validateRequest(req); err != nil {
		return "", err
	}
	pkg := packageFor(req)
	payload, err := jsonBody(pkg)
	if err != nil {
		return "", err
	}
	body, contentType, err := multipartBody(payload, pkg.Documents[0].Name, req.Document.Content)
	if err != nil {
		return "", fmt.Errorf("onespan: building the create request: %w", err)
	}
	resp, err := c.api(ctx, call{
		op: "creating a package", method: http.MethodPost, path: "/packages",
		body: body, contentType: contentType,
	})
	if err != nil {
		return "", err
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil || checkID("package", out.ID) != nil {
		return "", localError(resp.Status, false, "the create answer has no usable package id")
	}
	return out.ID, nil
}

// listedPackage is the part of a package FindByWorkItem reads. Data stays raw so that a
// listing without the attribute (absent) is told from a package without attributes (null, {}).
type listedPackage struct {
	ID      string          `json:"id"`
	Created string          `json:"created"`
	Data    json.RawMessage `json:"data"`
}

func workItemOf(data json.RawMessage) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(m[WorkItemIDAttribute], &s) != nil {
		return ""
	}
	return s
}

// FindByWorkItem looks for a package whose data attribute carries workItemID, among the
// packages updated since `since` (less five minutes for clock skew; 30 days back when since is
// zero), newest first, in at most the client's page limit (WithListPaging). When several carry
// it, the earliest created wins. A package the listing shows without its data is read on its
// own (a few at most). When the pages run out before the list does and nothing matched, it
// answers a transient error rather than "not found", which would make the caller create a
// second package.
func (c *Client) FindByWorkItem(ctx context.Context, workItemID string, since time.Time) (string, bool, error) {
	if strings.TrimSpace(workItemID) == "" {
		return "", false, fmt.Errorf("onespan: %w: an empty work item id", engine.ErrProviderPermanent)
	}
	from := since.Add(-clockSkew)
	if since.IsZero() {
		from = c.now().Add(-findLookback)
	}
	to := c.now().Add(24 * time.Hour) // a bound the API expects, far enough for any skew
	best, bestAt := "", time.Time{}
	consider := func(id, created string) {
		at, _ := rest.ParseTime(created)
		if best == "" || at.Before(bestAt) {
			best, bestAt = id, at
		}
	}
	details := 0
	for page := range c.maxPages {
		first := page*c.pageSize + 1
		last := first + c.pageSize - 1
		resp, err := c.api(ctx, call{
			op: "listing packages", method: http.MethodGet, path: "/packages", idempotent: true, limit: maxListResponse,
			query: url.Values{
				"query":                {"inbox"},
				"from":                 {strconv.Itoa(first)},
				"to":                   {strconv.Itoa(last)},
				"lastUpdatedStartDate": {from.UTC().Format(listDateLayout)},
				"lastUpdatedEndDate":   {to.UTC().Format(listDateLayout)},
				"sort":                 {"updated"},
				"dir":                  {"desc"},
			},
		})
		if err != nil {
			return "", false, err
		}
		if resp.TooLarge {
			return "", false, localError(resp.Status, false, "a page of the package list is too large to read")
		}
		var list struct {
			Results []listedPackage `json:"results"`
			Count   int             `json:"count"`
		}
		if err := json.Unmarshal(resp.Body, &list); err != nil {
			return "", false, localError(resp.Status, false, "the package list is not JSON")
		}
		for _, p := range list.Results {
			if checkID("package", p.ID) != nil {
				continue
			}
			data, created := p.Data, p.Created
			if len(data) == 0 && details < maxDetailReads {
				details++
				full, err := c.getPackage(ctx, p.ID)
				if err != nil {
					return "", false, err
				}
				if full == nil {
					continue // deleted since it was listed
				}
				data, created = full.Data, full.Created
			}
			if workItemOf(data) == workItemID {
				consider(p.ID, created)
			}
		}
		if len(list.Results) < c.pageSize || last >= list.Count {
			return best, best != "", nil
		}
	}
	if best != "" {
		return best, true, nil
	}
	return "", false, localError(0, false, fmt.Sprintf(
		"more than %d packages changed since %s and none of them carries work item %s; not sure that it does not exist",
		c.pageSize*c.maxPages, from.UTC().Format(time.RFC3339), rest.Quote(workItemID)))
}

// packageView is the part of GET /api/packages/{id} flowhook reads (providers.md B4).
type packageView struct {
	ID        string          `json:"id"`
	Status    string          `json:"status"`
	Trashed   bool            `json:"trashed"`
	Updated   string          `json:"updated"`
	Created   string          `json:"created"`
	Completed string          `json:"completed"`
	Data      json.RawMessage `json:"data"`
	Messages  []struct {
		Content string `json:"content"`
		Created string `json:"created"`
	} `json:"messages"`
}

// getPackage reads a package; nil when OneSpan says it does not exist (404 with its error body).
func (c *Client) getPackage(ctx context.Context, id string) (*packageView, error) {
	resp, err := c.api(ctx, call{
		op: "reading a package", method: http.MethodGet, path: "/packages/" + url.PathEscape(id), idempotent: true,
	})
	if isGone(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p packageView
	if err := json.Unmarshal(resp.Body, &p); err != nil || p.Status == "" {
		return nil, localError(resp.Status, false, "the package has no status")
	}
	return &p, nil
}

// isGone reports a 404 that came with OneSpan's error body: the thing does not exist
// (providerError). A bare 404 (a wrong base URL, a proxy) is not taken for a deletion.
func isGone(err error) bool { return errors.Is(err, engine.ErrGone) }

// Status reads the package (providers.md B4). A package OneSpan no longer has (404) reports
// StatusDeleted and OutcomeDeleted. The reason of a decline or an opt-out is the newest of the
// package's messages; ChangedAt is the package's updated time.
func (c *Client) Status(ctx context.Context, externalID string) (engine.ExternalStatus, error) {
	if err := checkID("package", externalID); err != nil {
		return engine.ExternalStatus{}, err
	}
	p, err := c.getPackage(ctx, externalID)
	if err != nil {
		return engine.ExternalStatus{}, err
	}
	if p == nil {
		return engine.ExternalStatus{Status: StatusDeleted, Outcome: engine.OutcomeDeleted}, nil
	}
	st := engine.ExternalStatus{Status: p.Status, Outcome: StatusOutcome(p.Status, p.Trashed)}
	status := strings.ToUpper(p.Status)
	if p.Trashed && !isTerminalStatus(status) {
		st.Status = StatusTrashed
	}
	// OneSpan archives completed packages: one that was completed finished, whatever the
	// archive says (StatusOutcome alone cannot tell).
	if status == "ARCHIVED" && strings.TrimSpace(p.Completed) != "" {
		st.Outcome = engine.OutcomeFinished
	} else if status == "ARCHIVED" {
		// Archiving hides what came before (a decline, an opt-out, an expiry): DELETED is all
		// the status says, and any terminal outcome a callback reports is consistent with it.
		st.Concealed = true
	}
	if status == "DECLINED" || status == "OPTED_OUT" {
		var newest time.Time
		for _, m := range p.Messages {
			if strings.TrimSpace(m.Content) == "" {
				continue
			}
			at, _ := rest.ParseTime(m.Created)
			if st.Reason == "" || !at.Before(newest) {
				st.Reason, newest = rest.Clean(m.Content, 1000), at
			}
		}
	}
	st.ChangedAt, _ = rest.ParseTime(p.Updated)
	return st, nil
}

func isTerminalStatus(status string) bool {
	switch status {
	case "COMPLETED", "DECLINED", "OPTED_OUT", "EXPIRED", "ARCHIVED":
		return true
	}
	return false
}

// Cancel deletes the package (DELETE /api/packages/{id}, providers.md B4): OneSpan has no
// DocuSign-style void and its DELETE takes no reason, so the reason stays with flowhook. A
// package that is already gone is fine. A package that reached a status of its own (completed,
// declined, opted out, expired, archived) is not deleted, so that a signed document is never
// destroyed by a late cancellation: that is a permanent error, as DocuSign's refusal to void a
// completed envelope is.
func (c *Client) Cancel(ctx context.Context, externalID, reason string) error {
	_ = reason // kept by the caller's activity; OneSpan has nowhere to put it
	if err := checkID("package", externalID); err != nil {
		return err
	}
	p, err := c.getPackage(ctx, externalID)
	if err != nil || p == nil {
		return err
	}
	if status := strings.ToUpper(p.Status); status != "DRAFT" && status != "SENT" {
		return localError(0, true, fmt.Sprintf("package %s is %s; only a DRAFT or SENT package is deleted", externalID, rest.Clean(p.Status, 40)))
	}
	_, err = c.api(ctx, call{
		op: "deleting a package", method: http.MethodDelete, path: "/packages/" + url.PathEscape(externalID), idempotent: true,
	})
	if isGone(err) {
		return nil
	}
	return err
}

// Download returns the package's documents as OneSpan's zip (GET …/documents/zip, providers.md
// B7), up to the client's size cap. A larger answer or an empty zip is
// engine.ErrDocumentUnkeepable; a package OneSpan does not have is engine.ErrGone
// (providerError). An answer that is not a zip is transient: it did not come from OneSpan's
// documents (a proxy's page, say), and the download is tried again.
func (c *Client) Download(ctx context.Context, externalID string) ([]byte, error) {
	if err := checkID("package", externalID); err != nil {
		return nil, err
	}
	resp, err := c.api(ctx, call{
		op: "downloading the documents", method: http.MethodGet, path: "/packages/" + url.PathEscape(externalID) + "/documents/zip",
		accept: "application/zip, */*", idempotent: true, limit: c.maxDocument,
	})
	if err != nil {
		return nil, err
	}
	// Downloading again mends neither of the first two: the document cannot be kept.
	switch {
	case resp.TooLarge:
		return nil, unkeepable(resp.Status, fmt.Sprintf("the documents zip is larger than %d bytes", c.maxDocument))
	case bytes.HasPrefix(resp.Body, []byte("PK\x05\x06")):
		// The end of the central directory first: a zip with no entries.
		return nil, unkeepable(resp.Status, "the documents zip has no documents in it")
	case !bytes.HasPrefix(resp.Body, []byte("PK\x03\x04")):
		return nil, localError(resp.Status, false, "the documents download is not a zip")
	}
	return resp.Body, nil
}

// DownloadPDF returns one document of the package as PDF (GET …/documents/{documentId}/pdf,
// providers.md B7), up to the client's size cap.
func (c *Client) DownloadPDF(ctx context.Context, packageID, documentID string) ([]byte, error) {
	if err := checkID("package", packageID); err != nil {
		return nil, err
	}
	if err := checkID("document", documentID); err != nil {
		return nil, err
	}
	resp, err := c.api(ctx, call{
		op:     "downloading a document",
		method: http.MethodGet, path: "/packages/" + url.PathEscape(packageID) + "/documents/" + url.PathEscape(documentID) + "/pdf",
		accept: "application/pdf, application/octet-stream, */*", idempotent: true, limit: c.maxDocument,
	})
	if err != nil {
		return nil, err
	}
	if resp.TooLarge {
		return nil, unkeepable(resp.Status, fmt.Sprintf("the document is larger than %d bytes", c.maxDocument))
	}
	if !bytes.HasPrefix(resp.Body, []byte("%PDF-")) {
		return nil, localError(resp.Status, false, "the document is not a PDF")
	}
	return resp.Body, nil
}

// checkID keeps anything but an id of OneSpan's alphabet out of request paths: package ids
// are URL-safe base64-like ("LWsUTvGgE4WpOvaQPT16idnxNj8="), document ids hex or words
// ("default-consent"). Ids are escaped in paths all the same.
func checkID(kind, id string) error {
	ok := id != "" && len(id) <= maxIDLength && strings.Trim(id, ".") != ""
	for i := 0; ok && i < len(id); i++ {
		ch := id[i]
		ok = 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' ||
			strings.IndexByte("-_=+.~", ch) >= 0
	}
	if !ok {
		return fmt.Errorf("onespan: %w: %s id %s is not a OneSpan id", engine.ErrProviderPermanent, kind, rest.Quote(id))
	}
	return nil
}

// Callback is the account's callback configuration (providers.md B5): where OneSpan posts
// events, the key it sends as "Authorization: Basic {key}", and the events it sends.
type Callback struct {
	URL    string   `json:"url"`
	Key    string   `json:"key,omitempty"`
	Events []string `json:"events"`
}

// String and GoString keep the key out of logs.
func (cb Callback) String() string {
	return fmt.Sprintf("onespan.Callback{URL:%q Key:%s Events:%v}", cb.URL, redacted(cb.Key != ""), cb.Events)
}

func (cb Callback) GoString() string { return cb.String() }

// OutcomeCallbackEvents are the events flowhook registers at OneSpan whatever the debug option:
// the outcomes (HandledEvents, in OneSpan's spelling), the only ones it acts on.
var OutcomeCallbackEvents = []string{
	"PACKAGE_COMPLETE", "PACKAGE_DECLINE", "PACKAGE_OPT_OUT", "PACKAGE_EXPIRE",
	"PACKAGE_TRASH", "PACKAGE_DELETE", "PACKAGE_ARCHIVE",
}

// ProgressCallbackEvents are registered as well while the Webhook Receiver debug option is on:
// flowhook answers and ignores them, and the Event Log keeps them then, so that a package's
// story shows there. With the option off they would be answered and dropped — for each
// package, a DOCUMENT_SIGNED per document and signer and a SIGNER_COMPLETE per signer, each a
// request OneSpan makes and flowhook answers for nothing — so they are not asked for.
var ProgressCallbackEvents = []string{"PACKAGE_ACTIVATE", "SIGNER_COMPLETE", "DOCUMENT_SIGNED"}

// CallbackEvents are all the events flowhook may register: the progress events and the
// outcomes (what CallbackEventsFor(true) is). The sandbox's OneSpan is registered for them, so
// that it can hold and reorder a package's every event.
var CallbackEvents = CallbackEventsFor(true)

// CallbackEventsFor are the events registered with the Webhook Receiver debug option on or off.
func CallbackEventsFor(debug bool) []string {
	if !debug {
		return slices.Clone(OutcomeCallbackEvents)
	}
	return slices.Concat(ProgressCallbackEvents, OutcomeCallbackEvents)
}

// RegisterCallback creates or replaces the account's callback configuration
// (POST /api/callback). key may be empty (OneSpan then sends no Authorization header, which
// flowhook's receiver refuses); events nil means CallbackEvents.
func (c *Client) RegisterCallback(ctx context.Context, callbackURL, key string, events []string) error {
	var ps engine.Problems
	if u, err := url.Parse(callbackURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		ps.Add("url", "must be an absolute http(s) URL")
	}
	if key != "" {
		if err := checkKey(key); err != nil {
			ps.Add("key", "%v", err)
		}
	}
	if events == nil {
		events = CallbackEvents
	}
	if len(events) == 0 {
		ps.Add("events", "at least one event is required")
	}
	for i, e := range events {
		if e == "" || !printable(e) || len(e) > 100 {
			ps.Add(fmt.Sprintf("events[%d]", i), "must be an event name")
		}
	}
	if err := ps.Err(); err != nil {
		return fmt.Errorf("onespan: %w: %w", engine.ErrProviderPermanent, err)
	}
	body, err := jsonBody(Callback{URL: callbackURL, Key: key, Events: events})
	if err != nil {
		return err
	}
	_, err = c.api(ctx, call{
		op: "registering the callback", method: http.MethodPost, path: "/callback", idempotent: true,
		body: body, contentType: jsonType,
	})
	return err
}

// GetCallback reads the account's callback configuration (GET /api/callback); the zero
// Callback when none is registered.
func (c *Client) GetCallback(ctx context.Context) (Callback, error) {
	resp, err := c.api(ctx, call{op: "reading the callback", method: http.MethodGet, path: "/callback", idempotent: true})
	if isGone(err) {
		return Callback{}, nil
	}
	if err != nil {
		return Callback{}, err
	}
	var cb Callback
	if len(bytes.TrimSpace(resp.Body)) == 0 {
		return Callback{}, nil
	}
	if err := json.Unmarshal(resp.Body, &cb); err != nil {
		return Callback{}, localError(resp.Status, false, "the callback configuration is not JSON")
	}
	return cb, nil
}
