package onespanfake

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Package is a create request's Package JSON as the fake reads it (providers.md B3): the
// fields of OneSpan's schema that flowhook sends, unknown ones ignored, as OneSpan's Jackson
// models do. The types below are its parts.
type Package struct {
	ID           string         `json:"id,omitempty"`
	Name         string         `json:"name"`
	Description  string         `json:"description,omitempty"`
	EmailMessage string         `json:"emailMessage,omitempty"`
	Type         string         `json:"type,omitempty"`
	Status       string         `json:"status,omitempty"`
	Autocomplete *bool          `json:"autocomplete,omitempty"`
	Language     string         `json:"language,omitempty"`
	Roles        []Role         `json:"roles,omitempty"`
	Documents    []Document     `json:"documents,omitempty"`
	Data         map[string]any `json:"data,omitempty"`
}

// Role is a party of the package; SIGNER by default.
type Role struct {
	ID      string   `json:"id,omitempty"`
	Name    string   `json:"name,omitempty"`
	Type    string   `json:"type,omitempty"`
	Index   int      `json:"index"`
	Signers []Signer `json:"signers,omitempty"`
}

// Signer is the person behind a role.
type Signer struct {
	ID        string `json:"id,omitempty"`
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Company   string `json:"company,omitempty"`
}

// Document is one entry of documents[]; its file is the file part at the same position.
type Document struct {
	ID        string     `json:"id,omitempty"`
	Name      string     `json:"name"`
	Extract   bool       `json:"extract,omitempty"`
	Approvals []Approval `json:"approvals,omitempty"`
}

// Approval is a role's signature on a document, with its fields.
type Approval struct {
	ID     string  `json:"id,omitempty"`
	Role   string  `json:"role"`
	Fields []Field `json:"fields,omitempty"`
}

// Field is a signature or input placed on a page (0-based), in pixels (PixelsPerPoint), or by
// a text anchor.
type Field struct {
	ID            string         `json:"id,omitempty"`
	Type          string         `json:"type,omitempty"`
	Subtype       string         `json:"subtype,omitempty"`
	Page          int            `json:"page"`
	Left          float64        `json:"left"`
	Top           float64        `json:"top"`
	Width         float64        `json:"width"`
	Height        float64        `json:"height"`
	Extract       bool           `json:"extract"`
	ExtractAnchor *ExtractAnchor `json:"extractAnchor,omitempty"`
}

// ExtractAnchor places a field relative to an occurrence of text in the document.
type ExtractAnchor struct {
	Text           string `json:"text"`
	Index          int    `json:"index"`
	Width          int    `json:"width"`
	Height         int    `json:"height"`
	AnchorPoint    string `json:"anchorPoint"`
	CharacterIndex int    `json:"characterIndex"`
	LeftOffset     int    `json:"leftOffset"`
	TopOffset      int    `json:"topOffset"`
}

// File is one "file" part of a multipart create.
type File struct {
	FileName    string
	ContentType string
	Data        []byte
}

// CreateRequest is one POST /api/packages the fake received.
type CreateRequest struct {
	// ContentType is the request's; PayloadContentType the "payload" part's (multipart).
	ContentType        string
	PayloadContentType string
	// Raw is the Package JSON exactly as sent; Package is Raw decoded (zero when it is not).
	Raw     json.RawMessage
	Package Package
	Files   []File
	// ID is the created package's id; empty when the fake refused the request with MessageKey.
	ID         string
	MessageKey string
}

// pkg is the fake's record of one package.
type pkg struct {
	id        string
	def       Package
	status    string
	trashed   bool
	created   time.Time
	updated   time.Time
	completed time.Time
	docs      []*docState
	signers   []*signerState // signing order
	messages  []message
	// downloads counts the downloads of its documents (the zip, or one document's PDF);
	// downloaded, when someone waits for one (Downloads), is closed at the next.
	downloads  int
	downloaded chan struct{}
}

type docState struct {
	id   string
	name string
	data []byte
}

type signerState struct {
	roleID string
	id     string
	email  string
	first  string
	last   string
	signed time.Time
}

type message struct {
	content string
	created time.Time
	from    *signerState
}

// maxCreateBody bounds a create request.
const maxCreateBody = 64 << 20

// createPackage is POST /api/packages (providers.md B3): multipart/form-data with a "payload"
// part and one "file" part per document, or application/json without documents → 200 {"id"}.
func (f *Fake) createPackage(w http.ResponseWriter, r *http.Request) {
	rec := CreateRequest{ContentType: r.Header.Get("Content-Type")}
	refuse := func(key, msg string) {
		rec.MessageKey = key
		f.creates.Add(rec)
		validationError(w, key, msg)
	}
	mediaType, params, err := mime.ParseMediaType(rec.ContentType)
	switch {
	case err == nil && mediaType == "multipart/form-data":
		mr := multipart.NewReader(http.MaxBytesReader(w, r.Body, maxCreateBody), params["boundary"])
		var sawPayload bool
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				refuse("error.validation.invalidMultipart", "The multipart request could not be read.")
				return
			}
			data, err := io.ReadAll(part)
			if err != nil {
				refuse("error.validation.invalidMultipart", "The multipart request could not be read.")
				return
			}
			switch part.FormName() {
			case "payload":
				if sawPayload {
					refuse("error.validation.invalidMultipart", "The request has more than one payload part.")
					return
				}
				sawPayload = true
				rec.Raw, rec.PayloadContentType = json.RawMessage(data), part.Header.Get("Content-Type")
			case "file":
				rec.Files = append(rec.Files, File{FileName: part.FileName(), ContentType: part.Header.Get("Content-Type"), Data: data})
			}
		}
		if !sawPayload {
			refuse("error.validation.missingPayload", "The multipart request has no payload part.")
			return
		}
	case err == nil && mediaType == "application/json":
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCreateBody))
		if err != nil {
			refuse("error.validation.invalidJson", "The request body could not be read.")
			return
		}
		rec.Raw = json.RawMessage(data)
	default:
		refuse("error.validation.invalidContentType", "Use multipart/form-data (payload and file parts) or application/json.")
		return
	}
	var def Package
	if err := json.Unmarshal(rec.Raw, &def); err != nil {
		refuse("error.validation.invalidJson", "The package JSON is not valid: "+err.Error())
		return
	}
	rec.Package = def
	if key, msg := validatePackage(def, rec.Files); key != "" {
		refuse(key, msg)
		return
	}

	f.mu.Lock()
	now := f.now()
	p := &pkg{id: newPackageID(), def: def, status: "DRAFT", created: now, updated: now}
	for i, d := range def.Documents {
		p.docs = append(p.docs, &docState{id: newDocumentID(), name: d.Name, data: rec.Files[i].Data})
	}
	roles := slices.Clone(def.Roles)
	sort.SliceStable(roles, func(i, j int) bool { return roles[i].Index < roles[j].Index })
	for _, ro := range roles {
		if ro.Type != "" && ro.Type != "SIGNER" {
			continue
		}
		s := ro.Signers[0]
		p.signers = append(p.signers, &signerState{roleID: ro.ID, id: newSignerID(), email: s.Email, first: s.FirstName, last: s.LastName})
	}
	msgs := []*outgoing{f.eventLocked(p, "PACKAGE_CREATE", f.opts.SenderID, "", "")}
	if def.Status == "SENT" {
		p.status = "SENT"
		msgs = append(msgs, f.eventLocked(p, "PACKAGE_ACTIVATE", f.opts.SenderID, "", ""))
	}
	f.packages[p.id] = p
	f.order = append(f.order, p.id)
	rec.ID = p.id
	f.creates.Add(rec)
	drop := f.dropNextCreate.Fire()
	f.mu.Unlock()

	f.hooks.Dispatch(msgs...)
	if drop {
		panic(http.ErrAbortHandler) // the server closes the connection without an answer
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": p.id})
}

// validatePackage checks a create the way OneSpan answers it: the first problem found, as a
// messageKey and a message.
func validatePackage(def Package, files []File) (string, string) {
	if strings.TrimSpace(def.Name) == "" {
		return "error.validation.packageName", "The package name is required."
	}
	if def.Type != "" && def.Type != "PACKAGE" {
		return "error.validation.packageType", "Only packages of type PACKAGE can be created here."
	}
	switch def.Status {
	case "", "DRAFT", "SENT":
	default:
		return "error.validation.cannotChangePackageStatus", "Cannot change package status."
	}
	if len(def.Documents) != len(files) {
		return "error.validation.documentFileMismatch", "Every document needs exactly one file part, in the same order (" +
			strconv.Itoa(len(def.Documents)) + " documents, " + strconv.Itoa(len(files)) + " files)."
	}
	roles := map[string]bool{}
	signerRoles := 0
	for _, ro := range def.Roles {
		if ro.ID == "" || roles[ro.ID] {
			return "error.validation.roleId", "Every role needs a unique id."
		}
		roles[ro.ID] = true
		switch ro.Type {
		case "", "SIGNER":
			signerRoles++
		case "SENDER":
		default:
			return "error.validation.roleType", "Invalid role type: " + ro.Type
		}
		if len(ro.Signers) != 1 {
			return "error.validation.roleSigners", "Role " + ro.ID + " needs one signer."
		}
		s := ro.Signers[0]
		if a, err := mail.ParseAddress(s.Email); err != nil || a.Address != s.Email {
			return "error.validation.invalidEmail", "The email address of role " + ro.ID + " is not valid."
		}
		if strings.TrimSpace(s.FirstName) == "" || strings.TrimSpace(s.LastName) == "" {
			return "error.validation.signerName", "The signer of role " + ro.ID + " needs a first name and a last name."
		}
	}
	if def.Status == "SENT" && (len(def.Documents) == 0 || signerRoles == 0) {
		return "error.validation.packageActivation", "A package needs a document and a signer to be sent."
	}
	for i, d := range def.Documents {
		if strings.TrimSpace(d.Name) == "" {
			return "error.validation.documentName", "Every document needs a name."
		}
		data := files[i].Data
		if !bytes.HasPrefix(data, []byte("%PDF-")) {
			return "error.validation.invalidFileType", "The file of document " + d.Name + " is not a PDF."
		}
		pages, width, height, known := pageInfo(data)
		for _, a := range d.Approvals {
			if !roles[a.Role] {
				return "error.validation.approvalRole", "Approval role " + a.Role + " is not a role of the package."
			}
			for _, fd := range a.Fields {
				if key, msg := validateField(fd, d, data, pages, width, height, known); key != "" {
					return key, msg
				}
			}
		}
	}
	return "", ""
}

func validateField(fd Field, d Document, data []byte, pages int, width, height float64, known bool) (string, string) {
	switch fd.Type {
	case "SIGNATURE", "INPUT", "IMAGE":
	default:
		return "error.validation.fieldType", "Invalid field type: " + fd.Type
	}
	for _, v := range []float64{fd.Left, fd.Top, fd.Width, fd.Height} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "error.validation.invalidPageLocation", "Invalid position. Object placed outside of document page boundary."
		}
	}
	if a := fd.ExtractAnchor; a != nil {
		if !d.Extract {
			return "error.validation.extractAnchor", "Text anchors need extraction enabled on document " + d.Name + "."
		}
		if a.Width <= 0 || a.Height <= 0 {
			return "error.validation.fieldSize", "A text anchor needs a positive width and height."
		}
		switch a.AnchorPoint {
		case "TOPLEFT", "TOPRIGHT", "BOTTOMLEFT", "BOTTOMRIGHT":
		default:
			return "error.validation.extractAnchor", "Invalid anchorPoint: " + a.AnchorPoint
		}
		if a.Text == "" || a.Index < 0 || !containsText(data, a.Text, a.Index) {
			return "error.validation.extractAnchorNotFound", "Text anchor " + strconv.Quote(a.Text) + " was not found in document " + d.Name + "."
		}
		return "", ""
	}
	if fd.Width <= 0 || fd.Height <= 0 {
		return "error.validation.fieldSize", "A field needs a positive width and height."
	}
	const eps = 1e-6
	if fd.Page < 0 || fd.Left < 0 || fd.Top < 0 || known &&
		(fd.Page >= pages || fd.Left+fd.Width > width+eps || fd.Top+fd.Height > height+eps) {
		return "error.validation.invalidPageLocation", "Invalid position. Object placed outside of document page boundary."
	}
	return "", ""
}

// --- views ---

type packageView struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	EmailMessage string          `json:"emailMessage"`
	Type         string          `json:"type"`
	Status       string          `json:"status"`
	Autocomplete bool            `json:"autocomplete"`
	Language     string          `json:"language"`
	Trashed      bool            `json:"trashed"`
	Created      string          `json:"created"`
	Updated      string          `json:"updated"`
	Completed    *string         `json:"completed"`
	Data         json.RawMessage `json:"data,omitempty"`
	Sender       personView      `json:"sender"`
	Roles        []roleView      `json:"roles"`
	Documents    []documentView  `json:"documents"`
	Messages     []messageView   `json:"messages"`
}

type personView struct {
	ID        string `json:"id,omitempty"`
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
}

type roleView struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	Type    string       `json:"type"`
	Index   int          `json:"index"`
	Signers []personView `json:"signers"`
}

type documentView struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Index     int            `json:"index"`
	Approvals []approvalView `json:"approvals"`
}

type approvalView struct {
	ID     string  `json:"id"`
	Role   string  `json:"role"`
	Signed *string `json:"signed"`
	Fields []Field `json:"fields"`
}

type messageView struct {
	Content string       `json:"content"`
	Created string       `json:"created"`
	Status  string       `json:"status"`
	From    personView   `json:"from"`
	To      []personView `json:"to"`
}

// viewOf is a package as GET shows it; the caller holds f.mu. withData false leaves out the
// data attributes (a listing, with SetListOmitsData).
func (f *Fake) viewOf(p *pkg, withData bool) packageView {
	v := packageView{
		ID: p.id, Name: p.def.Name, Description: p.def.Description, EmailMessage: p.def.EmailMessage,
		Type: "PACKAGE", Status: p.status, Autocomplete: p.def.Autocomplete == nil || *p.def.Autocomplete,
		Language: p.def.Language, Trashed: p.trashed, Created: apiDate(p.created), Updated: apiDate(p.updated),
		Sender:    personView{ID: f.opts.SenderID, Email: f.opts.SenderEmail, FirstName: "Fake", LastName: "Sender"},
		Roles:     []roleView{},
		Documents: []documentView{},
		Messages:  []messageView{},
	}
	if v.Language == "" {
		v.Language = "en"
	}
	if !p.completed.IsZero() {
		c := apiDate(p.completed)
		v.Completed = &c
	}
	if withData {
		v.Data, _ = json.Marshal(p.def.Data) // a map of JSON values always marshals; nil is null
	}
	// OneSpan adds the account owner's role, index 0, to every package.
	v.Roles = append(v.Roles, roleView{ID: "Owner", Name: "Owner", Type: "SENDER", Index: 0, Signers: []personView{v.Sender}})
	for _, ro := range p.def.Roles {
		rv := roleView{ID: ro.ID, Name: ro.Name, Type: ro.Type, Index: ro.Index}
		if rv.Type == "" {
			rv.Type = "SIGNER"
		}
		for _, s := range ro.Signers {
			pv := personView{Email: s.Email, FirstName: s.FirstName, LastName: s.LastName}
			if st := p.signer(ro.ID); st != nil {
				pv.ID = st.id
			}
			rv.Signers = append(rv.Signers, pv)
		}
		v.Roles = append(v.Roles, rv)
	}
	for i, d := range p.def.Documents {
		dv := documentView{ID: p.docs[i].id, Name: d.Name, Index: i, Approvals: []approvalView{}}
		for j, a := range d.Approvals {
			av := approvalView{ID: p.docs[i].id[:8] + "-" + strconv.Itoa(j), Role: a.Role, Fields: slices.Clone(a.Fields)}
			if st := p.signer(a.Role); st != nil && !st.signed.IsZero() {
				s := apiDate(st.signed)
				av.Signed = &s
			}
			dv.Approvals = append(dv.Approvals, av)
		}
		v.Documents = append(v.Documents, dv)
	}
	for _, m := range p.messages {
		mv := messageView{Content: m.content, Created: apiDate(m.created), Status: "NEW", To: []personView{v.Sender}}
		if m.from != nil {
			mv.From = personView{ID: m.from.id, Email: m.from.email, FirstName: m.from.first, LastName: m.from.last}
		}
		v.Messages = append(v.Messages, mv)
	}
	return v
}

func (p *pkg) signer(roleID string) *signerState {
	for _, s := range p.signers {
		if s.roleID == roleID {
			return s
		}
	}
	return nil
}

// getPackage is GET /api/packages/{id} (providers.md B4).
func (f *Fake) getPackage(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	p, ok := f.packages[r.PathValue("id")]
	var v packageView
	if ok {
		v = f.viewOf(p, true)
	}
	f.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// listPackages is GET /api/packages?query=&from=&to=&lastUpdatedStartDate=&lastUpdatedEndDate=
// &sort=&dir= → {"results": [...], "count": n}; from and to count from 1, both included.
func (f *Fake) listPackages(w http.ResponseWriter, r *http.Request) {
	if !f.lookups.Wait(r.Context()) {
		return // the client gave up while the test held the lookup
	}
	q := r.URL.Query()
	query := q.Get("query")
	if query == "" {
		query = "inbox"
	}
	switch query {
	case "inbox", "sent", "drafts", "trashed", "DRAFT", "SENT", "COMPLETED", "ARCHIVED", "DECLINED", "OPTED_OUT", "EXPIRED":
	default:
		validationError(w, "error.validation.invalidParameters", "Invalid query: "+query)
		return
	}
	intParam := func(name string, def int) (int, bool) {
		v := q.Get(name)
		if v == "" {
			return def, true
		}
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	from, ok1 := intParam("from", 1)
	to, ok2 := intParam("to", from+49)
	if !ok1 || !ok2 || from < 1 || to < from || to-from >= 1000 {
		validationError(w, "error.validation.invalidParameters", "from and to must be numbers with 1 <= from <= to and at most 1000 packages.")
		return
	}
	var start, end time.Time
	for name, dst := range map[string]*time.Time{"lastUpdatedStartDate": &start, "lastUpdatedEndDate": &end} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				validationError(w, "error.validation.invalidParameters", "Invalid date for "+name+": "+v)
				return
			}
			*dst = t
		}
	}
	sortBy, dir := q.Get("sort"), q.Get("dir")
	if sortBy == "" {
		sortBy = "updated"
	}
	if dir == "" {
		dir = "desc"
	}
	if (sortBy != "updated" && sortBy != "created" && sortBy != "name") || (dir != "asc" && dir != "desc") {
		validationError(w, "error.validation.invalidParameters", "Invalid sort or dir.")
		return
	}

	f.mu.Lock()
	var found []*pkg
	for _, id := range f.order {
		p, ok := f.packages[id]
		if !ok {
			continue
		}
		var in bool
		switch query {
		case "inbox", "sent":
			in = !p.trashed && p.status != "DRAFT"
		case "drafts":
			in = !p.trashed && p.status == "DRAFT"
		case "trashed":
			in = p.trashed
		default:
			in = !p.trashed && p.status == query
		}
		// Dates compare at the second, as OneSpan's dates are written.
		updated := p.updated.Truncate(time.Second)
		if in && (start.IsZero() || !updated.Before(start)) && (end.IsZero() || !updated.After(end)) {
			found = append(found, p)
		}
	}
	less := func(a, b *pkg) int {
		switch sortBy {
		case "created":
			return a.created.Compare(b.created)
		case "name":
			return strings.Compare(a.def.Name, b.def.Name)
		}
		return a.updated.Compare(b.updated)
	}
	slices.SortStableFunc(found, func(a, b *pkg) int {
		if dir == "desc" {
			return less(b, a)
		}
		return less(a, b)
	})
	results := []packageView{}
	for i := from - 1; i < to && i < len(found); i++ {
		results = append(results, f.viewOf(found[i], !f.listOmitsData.Load()))
	}
	count := len(found)
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"results": results, "count": count})
}

// updatePackage is POST or PUT /api/packages/{id} with a partial package: {"trashed": bool}
// trashes or restores; {"status": "SENT"|"DRAFT"} sends a draft or takes a package back.
func (f *Fake) updatePackage(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Status  *string `json:"status"`
		Trashed *bool   `json:"trashed"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		validationError(w, "error.validation.invalidJson", "The package JSON is not valid.")
		return
	}
	p := f.lockRequested(w, r)
	if p == nil {
		return
	}
	var msgs []*outgoing
	if req.Status != nil && *req.Status != p.status {
		switch {
		case *req.Status == "SENT" && p.status == "DRAFT":
			msgs = append(msgs, f.activateLocked(p))
		case *req.Status == "DRAFT" && p.status == "SENT":
			p.status, p.updated = "DRAFT", f.now()
			msgs = append(msgs, f.eventLocked(p, "PACKAGE_DEACTIVATE", f.opts.SenderID, "", ""))
		default:
			f.mu.Unlock()
			validationError(w, "error.validation.cannotChangePackageStatus", "Cannot change package status.")
			return
		}
	}
	if req.Trashed != nil && *req.Trashed != p.trashed {
		msgs = append(msgs, f.trashLocked(p, *req.Trashed))
	}
	f.mu.Unlock()
	f.hooks.Dispatch(msgs...)
	w.WriteHeader(http.StatusOK)
}

// lockRequested returns the package the request's path names with f.mu held; when there is
// none it releases f.mu, answers 404 and returns nil.
func (f *Fake) lockRequested(w http.ResponseWriter, r *http.Request) *pkg {
	f.mu.Lock()
	p, ok := f.packages[r.PathValue("id")]
	if !ok {
		f.mu.Unlock()
		notFound(w)
		return nil
	}
	return p
}

// deletePackage is DELETE /api/packages/{id}: the package is gone for good (later reads answer
// 404) and PACKAGE_DELETE goes out.
func (f *Fake) deletePackage(w http.ResponseWriter, r *http.Request) {
	p := f.lockRequested(w, r)
	if p == nil {
		return
	}
	msg := f.deleteLocked(p)
	f.mu.Unlock()
	f.hooks.Dispatch(msg)
	w.WriteHeader(http.StatusOK)
}

// downloadZip is GET /api/packages/{id}/documents/zip (providers.md B7): a zip with one PDF per
// document, named after it; a document every signer signed carries a note of the signatures
// after its end (a PDF incremental-update position, so the file stays a PDF).
func (f *Fake) downloadZip(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	p, ok := f.packages[r.PathValue("id")]
	type entry struct {
		name string
		data []byte
	}
	var entries []entry
	if ok {
		for _, d := range p.docs {
			entries = append(entries, entry{name: d.name + ".pdf", data: f.documentBytes(p, d)})
		}
		downloadedLocked(p)
	}
	f.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, fastDeflate)
	for _, e := range entries {
		fw, err := zw.Create(e.name)
		if err == nil {
			_, err = fw.Write(e.data)
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, "error.internal.default", "Unhandled Server Error", "The zip could not be written.")
			return
		}
	}
	if err := zw.Close(); err != nil {
		writeError(w, http.StatusInternalServerError, "error.internal.default", "Unhandled Server Error", "The zip could not be written.")
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="documents.zip"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// deflaters keep the zips' flate writers (at BestSpeed) between downloads: a writer is large to
// allocate, and its reset is most of a small document's cost.
var deflaters sync.Pool

// fastDeflate compresses a zip entry at flate.BestSpeed: still Deflate, as OneSpan's zips are,
// at a fraction of the default level's CPU, which the fake spends on the machine flowhook is
// measured on (loadgen).
func fastDeflate(w io.Writer) (io.WriteCloser, error) {
	if fw, ok := deflaters.Get().(*flate.Writer); ok {
		fw.Reset(w)
		return &pooledDeflater{fw}, nil
	}
	fw, err := flate.NewWriter(w, flate.BestSpeed)
	if err != nil {
		return nil, err
	}
	return &pooledDeflater{fw}, nil
}

// pooledDeflater returns its writer to deflaters once closed.
type pooledDeflater struct{ fw *flate.Writer }

func (p *pooledDeflater) Write(b []byte) (int, error) {
	if p.fw == nil {
		return 0, errors.New("onespanfake: write to a closed zip entry")
	}
	return p.fw.Write(b)
}

func (p *pooledDeflater) Close() error {
	if p.fw == nil {
		return errors.New("onespanfake: zip entry closed twice")
	}
	err := p.fw.Close()
	deflaters.Put(p.fw)
	p.fw = nil
	return err
}

// documentBytes is a document as downloaded; the caller holds f.mu.
func (f *Fake) documentBytes(p *pkg, d *docState) []byte {
	out := slices.Clone(d.data)
	var signed []string
	for _, s := range p.signers {
		if !s.signed.IsZero() {
			signed = append(signed, s.email+" at "+apiDate(s.signed))
		}
	}
	if len(signed) > 0 && len(signed) == len(p.signers) {
		out = append(out, []byte("\n% onespanfake: signed by "+strings.Join(signed, ", ")+"\n")...)
	}
	return out
}

// downloadedLocked counts a download of p's documents and wakes who waits for one; the caller
// holds f.mu.
func downloadedLocked(p *pkg) {
	p.downloads++
	if p.downloaded != nil {
		close(p.downloaded)
		p.downloaded = nil
	}
}

// Downloads returns how many times a package's documents have been downloaded (the zip, or a
// document's PDF: what flowhook does once a completion has moved its instance), waiting until
// they have been at least atLeast times or ctx ends; ok is false for a package it does not hold.
func (f *Fake) Downloads(ctx context.Context, id string, atLeast int) (n int, ok bool) {
	for {
		f.mu.Lock()
		p, ok := f.packages[id]
		if !ok || p.downloads >= atLeast {
			if ok {
				n = p.downloads
			}
			f.mu.Unlock()
			return n, ok
		}
		if p.downloaded == nil {
			p.downloaded = make(chan struct{})
		}
		next := p.downloaded
		n = p.downloads
		f.mu.Unlock()
		select {
		case <-next:
		case <-ctx.Done():
			return n, true
		}
	}
}

// downloadPDF is GET /api/packages/{id}/documents/{docId}/pdf (providers.md B7).
func (f *Fake) downloadPDF(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	p, ok := f.packages[r.PathValue("id")]
	var body []byte
	if ok {
		for _, d := range p.docs {
			if d.id == r.PathValue("docId") {
				body = f.documentBytes(p, d)
				downloadedLocked(p)
			}
		}
	}
	f.mu.Unlock()
	switch {
	case !ok:
		notFound(w)
	case body == nil:
		writeError(w, http.StatusNotFound, "error.notFound", "Resource Not Found", "The specified document does not exist.")
	default:
		w.Header().Set("Content-Type", "application/octet-stream; esl-api-version=11")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	}
}

// signingStatus is GET /api/packages/{id}/signingStatus[?signer=&document=] → {"status"}
// (providers.md B4); signer is a role id or a signer id.
func (f *Fake) signingStatus(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	p, ok := f.packages[r.PathValue("id")]
	var status string
	if ok {
		switch p.status {
		case "DRAFT":
			status = "INACTIVE"
		case "SENT":
			status = "SIGNING_PENDING"
		case "COMPLETED", "ARCHIVED":
			status = "COMPLETED"
		case "DECLINED", "OPTED_OUT":
			status = "DECLINED"
		case "EXPIRED":
			status = "EXPIRED"
		}
		if who := r.URL.Query().Get("signer"); who != "" && p.status == "SENT" {
			for _, s := range p.signers {
				if (s.roleID == who || s.id == who) && !s.signed.IsZero() {
					status = "SIGNING_COMPLETE"
				}
			}
		}
	}
	f.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": status})
}

// --- inspection ---

// Creates returns every create request received, in order, refused ones included.
func (f *Fake) Creates() []CreateRequest { return f.creates.All() }

// Packages returns the create requests that created a package, in order.
func (f *Fake) Packages() []CreateRequest {
	return f.creates.Filter(func(c CreateRequest) bool { return c.ID != "" })
}

// PackageState is a package's state as the fake holds it.
type PackageState struct {
	Status  string
	Trashed bool
	Deleted bool
	Updated time.Time
	// DocumentIDs are the ids of the package's documents, in order.
	DocumentIDs []string
	// SignerIDs are the signers' ids (their events' sessionUser), in signing order.
	SignerIDs []string
}

// State returns a package's state; false when no package with the id was ever created.
func (f *Fake) State(id string) (PackageState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.packages[id]
	if !ok {
		return PackageState{Deleted: slices.Contains(f.order, id)}, slices.Contains(f.order, id)
	}
	st := PackageState{Status: p.status, Trashed: p.trashed, Updated: p.updated}
	for _, d := range p.docs {
		st.DocumentIDs = append(st.DocumentIDs, d.id)
	}
	for _, s := range p.signers {
		st.SignerIDs = append(st.SignerIDs, s.id)
	}
	return st, true
}

// SetStatus changes what GET says a package's status is, with no event and nothing else
// changed, so that a test can make the read-back disagree with a callback.
func (f *Fake) SetStatus(id, status string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.packages[id]
	if !ok {
		return errorf("no package %s", id)
	}
	p.status = status
	return nil
}
