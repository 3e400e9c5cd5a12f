package document_test

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/document"
)

// These helpers read the few things the tests need straight from the bytes, which works because
// fpdf writes a plain cross-reference table and Render leaves content streams uncompressed.

var (
	startxrefRe = regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n?$`)
	xrefRe      = regexp.MustCompile(`(?m)^xref\n0 (\d+)\n`)
	countRe     = regexp.MustCompile(`<</Type /Pages\n/Kids \[[^\]]*\]\n/Count (\d+)\n/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]`)
	pageObj     = []byte("<</Type /Page\n")
)

// page is what the tests know of a rendered PDF.
type page struct {
	count         int
	width, height float64 // the MediaBox, in points
}

// requireValidPDF checks the PDF's structure (header, trailer, every cross-reference entry
// pointing at its object, a page tree whose count matches its pages) and returns the page count
// and size.
func requireValidPDF(t testing.TB, pdf []byte) page {
	t.Helper()
	require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-1.")), "no PDF header")
	require.True(t, bytes.HasSuffix(bytes.TrimRight(pdf, "\r\n"), []byte("%%EOF")), "no %%EOF at the end")

	m := startxrefRe.FindSubmatch(pdf)
	require.NotNil(t, m, "no startxref")
	xref, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	require.Less(t, xref, len(pdf))
	loc := xrefRe.FindSubmatchIndex(pdf[xref:])
	require.NotNil(t, loc, "startxref does not point at the xref table")
	require.Zero(t, loc[0], "startxref does not point at the xref table")
	n, err := strconv.Atoi(string(pdf[xref+loc[2] : xref+loc[3]]))
	require.NoError(t, err)
	entries := pdf[xref+loc[1]:]
	for obj := range n {
		require.GreaterOrEqual(t, len(entries), 20*(obj+1), "xref table is short")
		e := entries[20*obj : 20*obj+20]
		if obj == 0 {
			continue // the head of the free list
		}
		off, err := strconv.Atoi(string(e[:10]))
		require.NoError(t, err, "xref entry %d", obj)
		require.Less(t, off, len(pdf))
		require.True(t, bytes.HasPrefix(pdf[off:], []byte(strconv.Itoa(obj)+" 0 obj\n")),
			"xref entry %d does not point at its object", obj)
	}

	c := countRe.FindSubmatch(pdf)
	require.NotNil(t, c, "no page tree")
	var p page
	p.count, err = strconv.Atoi(string(c[1]))
	require.NoError(t, err)
	require.Positive(t, p.count)
	require.Equal(t, p.count, bytes.Count(pdf, pageObj), "page tree count and page objects differ")
	p.width, err = strconv.ParseFloat(string(c[2]), 64)
	require.NoError(t, err)
	p.height, err = strconv.ParseFloat(string(c[3]), 64)
	require.NoError(t, err)
	return p
}

// requireAnchors checks that every signer's anchor occurs exactly once, drawn in white, inside
// its signature box and on the box's page.
func requireAnchors(t testing.TB, out document.Output, signers int, p page) {
	t.Helper()
	require.Len(t, out.Anchors, signers)
	require.Len(t, out.Placements, signers)
	for i, anchor := range out.Anchors {
		require.Equal(t, document.Anchor(i), anchor)
		require.Equal(t, 1, bytes.Count(out.PDF, []byte(anchor)), "anchor %s", anchor)

		pl := out.Placements[i]
		require.GreaterOrEqual(t, pl.Page, 1, "anchor %s", anchor)
		require.LessOrEqual(t, pl.Page, p.count, "anchor %s", anchor)
		require.Positive(t, pl.Width)
		require.Positive(t, pl.Height)
		require.GreaterOrEqual(t, pl.X, 0.0)
		require.GreaterOrEqual(t, pl.Y, 0.0)
		require.LessOrEqual(t, pl.X+pl.Width, p.width)
		require.LessOrEqual(t, pl.Y+pl.Height, p.height)

		// fpdf writes each page object just before its content, so the page an anchor is on is
		// the number of page objects before it.
		at := bytes.Index(out.PDF, []byte(anchor))
		require.Equal(t, pl.Page, bytes.Count(out.PDF[:at], pageObj), "anchor %s is not on its box's page", anchor)

		// "q 1.000 g BT x y Td (/sn1/) Tj ET Q": white, at x, y from the bottom of the page.
		re := regexp.MustCompile(`q 1\.000 g BT ([\d.]+) ([\d.]+) Td \(` + regexp.QuoteMeta(anchor) + `\) Tj ET Q`)
		m := re.FindSubmatch(out.PDF)
		require.NotNil(t, m, "anchor %s is not drawn in white", anchor)
		x, err := strconv.ParseFloat(string(m[1]), 64)
		require.NoError(t, err)
		y, err := strconv.ParseFloat(string(m[2]), 64)
		require.NoError(t, err)
		y = p.height - y // the baseline, from the top
		// DocuSign aligns the tab's upper-left corner with the anchor's, so the anchor is in the
		// box's upper-left corner: its baseline within 8 points of the box's top.
		require.True(t, x >= pl.X && x <= pl.X+2 && y > pl.Y && y <= pl.Y+8,
			"anchor %s at (%.2f, %.2f) is not at the upper-left of its box %+v", anchor, x, y, pl)
	}
}
