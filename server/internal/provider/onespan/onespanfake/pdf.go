package onespanfake

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// PDF returns a small valid US Letter PDF with one page per text (Helvetica, one line each),
// with a correct cross-reference table: what tests can send, and what the fake serves. Text
// in it is written uncompressed, so a text anchor such as "/sn1/" is found in its bytes.
func PDF(pages ...string) []byte {
	if len(pages) == 0 {
		pages = []string{""}
	}
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	kids := make([]string, len(pages))
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d /MediaBox [0 0 612 792] >>", strings.Join(kids, " "), len(pages)))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	for i, text := range pages {
		content := fmt.Sprintf("BT /F1 12 Tf 72 720 Td (%s) Tj ET", pdfString(text))
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 5+2*i))
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

// pdfString escapes text for a PDF literal string, keeping printable ASCII only.
func pdfString(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\' || r == '(' || r == ')':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// PixelsPerPoint is how OneSpan's document engine scales a PDF page: it renders at 93.6 dpi,
// so a US Letter page (612 × 792 pt) is 796 × 1030 px, and field positions are in those pixels.
const PixelsPerPoint = 93.6 / 72

var (
	pageObject = regexp.MustCompile(`/Type\s*/Page\b`)
	mediaBox   = regexp.MustCompile(`/MediaBox\s*\[\s*(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s*\]`)
)

// pageInfo reads how many pages a PDF has and the size of its first MediaBox, in OneSpan's
// pixels; ok is false when either cannot be read (a compressed object stream, say).
func pageInfo(pdf []byte) (pages int, width, height float64, ok bool) {
	pages = len(pageObject.FindAllIndex(pdf, -1))
	m := mediaBox.FindSubmatch(pdf)
	if pages == 0 || m == nil {
		return 0, 0, 0, false
	}
	var v [4]float64
	for i := range v {
		f, err := strconv.ParseFloat(string(m[i+1]), 64)
		if err != nil {
			return 0, 0, 0, false
		}
		v[i] = f
	}
	width, height = (v[2]-v[0])*PixelsPerPoint, (v[3]-v[1])*PixelsPerPoint
	return pages, width, height, width > 0 && height > 0
}

// containsText reports whether text occurs in the PDF's bytes at least index+1 times, as
// written or escaped as a PDF literal string.
func containsText(pdf []byte, text string, index int) bool {
	for _, form := range []string{text, pdfString(text)} {
		if bytes.Count(pdf, []byte(form)) > index {
			return true
		}
	}
	return false
}
