package document

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-pdf/fpdf"
)

// Field is one labelled value of the form.
type Field struct{ Label, Value string }

// Signer is a party who signs; their anchor is Anchor(i) for their index i in Input.Signers.
type Signer struct{ Name, Email string }

// Input is what the document shows.
type Input struct {
	Title        string // the document title (the state's document_title, else the workflow name)
	WorkflowName string
	Reference    string // e.g. the instance id, printed small in the footer
	Fields       []Field
	Signers      []Signer
	CreatedAt    time.Time // printed as the date, and the PDF's creation date
}

// Placement is where a signer's signature box is, for providers that place fields by position.
// Coordinates are PDF points with the origin at the top-left of the page; Page counts from 1.
type Placement struct {
	Page                int
	X, Y, Width, Height float64
}

// Output is a rendered document.
type Output struct {
	PDF        []byte
	Anchors    []string    // Anchors[i] is Signer i's anchor text
	Placements []Placement // Placements[i] is Signer i's signature box
}

// ErrNoCreatedAt: an Input without a creation time cannot be rendered.
var ErrNoCreatedAt = errors.New("document: no creation time")

// Anchor is the anchor text of the signer at index i (0-based): "/sn1/", "/sn2/", … The closing
// slash keeps one anchor from being a prefix of another ("/sn1/" is not in "/sn10/").
func Anchor(i int) string { return "/sn" + strconv.Itoa(i+1) + "/" }

// Render lays out in as a PDF: the form's fields and, when it has signers, a signature block
// each (a document sent to a connector's system may have none). It fails for an Input without
// CreatedAt (a zero time would make fpdf stamp the current time, and the output would not be
// reproducible), and when fpdf reports an error.
func Render(in Input) (Output, error) {
	if in.CreatedAt.IsZero() {
		return Output{}, ErrNoCreatedAt
	}
	r := newRenderer(in)
	r.header()
	r.fields()
	var placements []Placement
	if len(in.Signers) > 0 {
		placements = r.signatures()
	}
	pdf, err := r.output()
	if err != nil {
		return Output{}, err
	}
	anchors := make([]string, len(in.Signers))
	for i := range anchors {
		anchors[i] = Anchor(i)
	}
	return Output{PDF: pdf, Anchors: anchors, Placements: placements}, nil
}

// output closes the document and returns its bytes, or the first error fpdf recorded: fpdf
// does not return errors from drawing calls but keeps the first and ignores later calls.
func (r *renderer) output() ([]byte, error) {
	var buf bytes.Buffer
	if err := r.pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("document: render PDF: %w", err)
	}
	return buf.Bytes(), nil
}

// Layout, in points on A4 (595.28 × 841.89).
const (
	marginX    = 56.0  // left and right
	marginTop  = 56.0  // the running header sits above it on pages after the first
	marginBase = 68.0  // from the bottom of the page to the bottom of the content
	footerBase = 34.0  // from the bottom of the page to the footer's baseline
	labelW     = 150.0 // the label column; the value column takes the rest
	columnGap  = 16.0
	rowPad     = 6.0 // above and below each row's text

	bodySize = 10.0
	bodyLead = 13.5

	sigBoxW    = 260.0 // the signature box above each signer's line
	sigBoxH    = 44.0
	sigBlockH  = sigBoxH + 46 // box, line, name, email and the gap to the next block
	anchorSize = 6.0
	anchorPad  = 1.0

	// Helvetica's ascender, as a fraction of the font size: the baseline of text whose top is
	// at y is y + ascent*size.
	ascent = 0.718

	// pagesAlias stands for the page count until the document is closed. Its control
	// characters cannot come from user text, which turns them into '?', so fpdf's replacement
	// of the alias cannot touch a user's "{nb}".
	pagesAlias = "\x01pages\x01"

	producer = "flowhook document"
)

type rgb struct{ r, g, b int }

var (
	ink   = rgb{33, 37, 41}
	muted = rgb{108, 117, 125}
	rule  = rgb{206, 212, 218}
	white = rgb{255, 255, 255}
)

// renderer is one document being laid out, top to bottom; y is where the next thing goes.
type renderer struct {
	in     Input
	pdf    *fpdf.Fpdf
	enc    encoder
	pageW  float64
	pageH  float64
	width  float64 // between the margins
	bottom float64 // content must end above this
	y      float64
	title  string // cp1252
	// The running header and the footer's reference, fitted once: they are drawn on every page,
	// and fitting a long string on each would make the work grow with pages × length.
	runningTitle string
	reference    string
}

func newRenderer(in Input) *renderer {
	pdf := fpdf.New("P", "pt", "A4", "")
	created := in.CreatedAt.UTC()
	pdf.SetCreationDate(created)
	pdf.SetModificationDate(created)
	pdf.SetProducer(producer, false)
	pdf.SetCreator(producer, false)
	pdf.SetCatalogSort(true)
	pdf.SetCompression(false)      // keeps the anchors literal in the bytes: see the package doc
	pdf.SetAutoPageBreak(false, 0) // renderer breaks pages itself, so it knows where boxes land
	pdf.SetMargins(marginX, marginTop, marginX)
	pdf.SetCellMargin(0) // so SplitLines wraps to exactly the column width
	pdf.AliasNbPages(pagesAlias)

	r := &renderer{in: in, pdf: pdf, enc: newEncoder()}
	r.pageW, r.pageH = pdf.GetPageSize()
	r.width = r.pageW - 2*marginX
	r.bottom = r.pageH - marginBase

	title := in.Title
	if title == "" {
		title = in.WorkflowName
	}
	if title == "" {
		title = "Document"
	}
	pdf.SetTitle(utf16BE(metadata(title)), false)
	r.title = r.enc.text(title, false)
	r.font("", 8, muted)
	r.runningTitle = r.fit(r.title, r.width, 1)[0]
	if ref := r.enc.text(in.Reference, false); ref != "" {
		r.font("", 7.5, muted)
		r.reference = r.fit("Reference: "+ref, r.width*0.6, 1)[0]
	}
	pdf.SetFooterFunc(r.footer)
	r.newPage()
	return r
}

// header is the first page's title block.
func (r *renderer) header() {
	r.font("B", 18, ink)
	for _, line := range r.fit(r.title, r.width, 3) {
		r.pdf.Text(marginX, r.y+ascent*18, line)
		r.y += 22
	}
	r.y += 6
	r.labelled("Workflow", r.enc.text(r.in.WorkflowName, false))
	r.labelled("Date", r.in.CreatedAt.UTC().Format("2 January 2006, 15:04 UTC"))
	r.y += 8
	r.hrule(ink, 1)
	r.y += 22
}

// labelled is a muted "name: value" line under the title; value is cp1252 and kept to two lines.
func (r *renderer) labelled(name, value string) {
	r.font("", bodySize, muted)
	prefix := name + ": "
	pw := r.pdf.GetStringWidth(prefix)
	if value == "" {
		value = emDash
	}
	r.pdf.Text(marginX, r.y+ascent*bodySize, prefix)
	r.font("", bodySize, ink)
	for _, line := range r.fit(value, r.width-pw, 2) {
		r.pdf.Text(marginX+pw, r.y+ascent*bodySize, line)
		r.y += bodyLead
	}
}

// fields lists the form as rows of label and value. A row longer than the rest of the page
// continues on the next; its label and value lines stay side by side.
func (r *renderer) fields() {
	r.heading("Details")
	if len(r.in.Fields) == 0 {
		r.font("I", bodySize, muted)
		r.pdf.Text(marginX, r.y+ascent*bodySize, "No form data.")
		r.y += bodyLead + 18
		return
	}
	valueX := marginX + labelW + columnGap
	valueW := r.width - labelW - columnGap
	for _, f := range r.in.Fields {
		r.font("B", bodySize, ink)
		labels := r.lines(r.enc.text(f.Label, true), labelW)
		r.font("", bodySize, ink)
		values := r.lines(r.enc.text(f.Value, true), valueW)
		valueColor := ink
		if len(values) == 0 {
			values, valueColor = []string{emDash}, muted
		}
		r.ensure(2*rowPad + bodyLead)
		r.y += rowPad
		for i := range max(len(labels), len(values)) {
			continued := false
			if r.y+bodyLead > r.bottom {
				r.newPage()
				r.y += rowPad
				continued = true
			}
			base := r.y + (bodyLead-bodySize)/2 + ascent*bodySize
			switch {
			case i < len(labels):
				r.font("B", bodySize, muted)
				r.pdf.Text(marginX, base, labels[i])
			case continued && len(labels) > 0:
				// The row goes on past its label: name it again at the top of the page.
				r.font("", bodySize, muted)
				suffix := " (continued)"
				r.pdf.Text(marginX, base, r.fit(labels[0], labelW-r.pdf.GetStringWidth(suffix), 1)[0]+suffix)
			}
			if i < len(values) {
				r.font("", bodySize, valueColor)
				r.pdf.Text(valueX, base, values[i])
			}
			r.y += bodyLead
		}
		r.y += rowPad
		r.hrule(rule, 0.5)
	}
	r.y += 26
}

// signatures draws one block per signer, never split across pages, and returns where each
// signer's box is.
func (r *renderer) signatures() []Placement {
	r.ensure(headingH + sigBlockH)
	r.heading("Signatures")
	r.y += 4
	placements := make([]Placement, len(r.in.Signers))
	for i, s := range r.in.Signers {
		r.ensure(sigBlockH)
		top := r.y
		placements[i] = Placement{Page: r.pdf.PageNo(), X: marginX, Y: top, Width: sigBoxW, Height: sigBoxH}

		// The anchor's upper-left corner is the box's: DocuSign aligns the tab's upper-left
		// corner with the anchor's, so the tab fills the box down to the line.
		r.font("", anchorSize, white)
		r.pdf.Text(marginX+anchorPad, top+anchorPad+ascent*anchorSize, Anchor(i))

		lineY := top + sigBoxH
		r.pdf.SetDrawColor(ink.r, ink.g, ink.b)
		r.pdf.SetLineWidth(0.75)
		r.pdf.Line(marginX, lineY, marginX+sigBoxW, lineY)

		name := r.enc.text(s.Name, false)
		if name == "" {
			name = "Signer " + strconv.Itoa(i+1)
		}
		r.font("", 7.5, muted)
		r.pdf.Text(marginX+sigBoxW+6, lineY+2.5, "Signature")
		r.font("B", bodySize, ink)
		r.pdf.Text(marginX, lineY+6+ascent*bodySize, r.fit(name, r.width, 1)[0])
		if email := r.enc.text(s.Email, false); email != "" {
			r.font("", 9, muted)
			r.pdf.Text(marginX, lineY+19+ascent*9, r.fit(email, r.width, 1)[0])
		}
		r.y = top + sigBlockH
	}
	return placements
}

const headingH = 30.0

// heading is a section title with a rule under it.
func (r *renderer) heading(text string) {
	r.font("B", 12, ink)
	r.pdf.Text(marginX, r.y+ascent*12, text)
	r.y += 18
	r.hrule(rule, 0.5)
	r.y += headingH - 18
}

// newPage starts a page; pages after the first repeat the title, small, above the margin.
func (r *renderer) newPage() {
	r.pdf.AddPage()
	r.y = marginTop
	if r.pdf.PageNo() == 1 {
		return
	}
	r.font("", 8, muted)
	r.pdf.Text(marginX, marginTop-22, r.runningTitle)
	r.pdf.SetDrawColor(rule.r, rule.g, rule.b)
	r.pdf.SetLineWidth(0.5)
	r.pdf.Line(marginX, marginTop-16, r.pageW-marginX, marginTop-16)
}

// footer is fpdf's footer callback: "Page N of M" on the left, the reference on the right.
func (r *renderer) footer() {
	base := r.pageH - footerBase
	r.pdf.SetDrawColor(rule.r, rule.g, rule.b)
	r.pdf.SetLineWidth(0.5)
	r.pdf.Line(marginX, base-12, r.pageW-marginX, base-12)
	r.font("", 7.5, muted)
	// Left-aligned because the alias's width is not the page count's.
	r.pdf.Text(marginX, base, "Page "+strconv.Itoa(r.pdf.PageNo())+" of "+pagesAlias)
	if r.reference != "" {
		r.pdf.Text(r.pageW-marginX-r.pdf.GetStringWidth(r.reference), base, r.reference)
	}
}

// ensure starts a new page unless h more points fit on this one.
func (r *renderer) ensure(h float64) {
	if r.y+h > r.bottom {
		r.newPage()
	}
}

// hrule draws a full-width rule at y.
func (r *renderer) hrule(c rgb, width float64) {
	r.pdf.SetDrawColor(c.r, c.g, c.b)
	r.pdf.SetLineWidth(width)
	r.pdf.Line(marginX, r.y, r.pageW-marginX, r.y)
}

func (r *renderer) font(style string, size float64, c rgb) {
	r.pdf.SetFont("Helvetica", style, size)
	r.pdf.SetTextColor(c.r, c.g, c.b)
}

// lines wraps cp1252 text s to width w in the current font, breaking at spaces, within a word
// too long for a line, and at "\n". fpdf's SplitLines, not SplitText: SplitText reads its input
// as UTF-8 and indexes the core font's 256 widths by rune, which cp1252 bytes break.
func (r *renderer) lines(s string, w float64) []string {
	if s == "" {
		return nil
	}
	split := r.pdf.SplitLines([]byte(s), w)
	out := make([]string, len(split))
	for i, l := range split {
		out[i] = string(l)
	}
	return out
}

// fit wraps s to w and keeps at most n lines (n ≥ 1), ending the last in an ellipsis if some
// were dropped. It always returns at least one line.
func (r *renderer) fit(s string, w float64, n int) []string {
	lines := r.lines(s, w)
	if len(lines) == 0 {
		return []string{""}
	}
	if len(lines) <= n {
		return lines
	}
	lines = lines[:n]
	last := lines[n-1]
	for last != "" && r.pdf.GetStringWidth(last+ellipsis) > w {
		last = last[:len(last)-1]
	}
	lines[n-1] = last + ellipsis
	return lines
}
