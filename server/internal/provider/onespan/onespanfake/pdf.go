package onespanfake

import (
	"bytes"
	"regexp"
	"strconv"

	"github.com/flowhook/flowhook/server/internal/provider/fakepdf"
)

// PDF returns a small valid US Letter PDF with one page per text (Helvetica, one line each):
// what tests can send, and what the fake serves. Text in it is written uncompressed, so a text
// anchor such as "/sn1/" is found in its bytes.
func PDF(pages ...string) []byte { return fakepdf.New(pages...) }

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
	for _, form := range []string{text, fakepdf.String(text)} {
		if bytes.Count(pdf, []byte(form)) > index {
			return true
		}
	}
	return false
}
