package document_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/document"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var created = time.Date(2026, 1, 2, 9, 30, 0, 0, time.UTC)

// small is a one-page document: a few fields and two signers.
func small() document.Input {
	return document.Input{
		Title:        "Supplier onboarding agreement",
		WorkflowName: "Supplier onboarding",
		Reference:    "0196f5b2-7c1e-7a51-9c1e-3c1d2b7a9e01",
		Fields: []document.Field{
			{Label: "Company", Value: "Acme Industrial Supplies Ltd."},
			{Label: "Registration number", Value: "GB-0423 5591"},
			{Label: "Annual volume", Value: "€ 1,250,000"},
			{Label: "Delivery terms", Value: "Deliveries within 10 working days of an order.\nPartial deliveries need the buyer's written consent."},
			{Label: "Comments", Value: ""},
		},
		Signers: []document.Signer{
			{Name: "Zoë Ŝmith", Email: "zoe.smith@acme.example"},
			{Name: "Alex Manager", Email: "alex.manager@buyer.example"},
		},
		CreatedAt: created,
	}
}

func signers(n int) []document.Signer {
	s := make([]document.Signer, n)
	for i := range s {
		s[i] = document.Signer{Name: fmt.Sprintf("Signer number %d", i+1), Email: fmt.Sprintf("signer%d@example.com", i+1)}
	}
	return s
}

func fields(n, size int) []document.Field {
	f := make([]document.Field, n)
	for i := range f {
		f[i] = document.Field{Label: fmt.Sprintf("Field %d", i+1), Value: strings.Repeat("lorem ipsum ", size/12+1)[:size]}
	}
	return f
}

func TestRender(t *testing.T) {
	t.Parallel()
	with := func(change func(in *document.Input)) document.Input {
		in := small()
		change(&in)
		return in
	}
	cases := []struct {
		name     string
		in       document.Input
		minPages int
		maxPages int
		// text is what must appear in the page content (cp1252, escaped as in the PDF).
		text []string
	}{
		{name: "small", in: small(), minPages: 1, maxPages: 1,
			text: []string{"(Supplier onboarding agreement)", "(Acme Industrial Supplies Ltd.)", "(Page 1 of 1)", "(Reference: 0196f5b2-7c1e-7a51-9c1e-3c1d2b7a9e01)", "(2 January 2026, 09:30 UTC)"}},
		{name: "unicode", in: with(func(in *document.Input) {
			in.Title = "Zoë Ŝmith 日本"
			in.WorkflowName = "Ωmega — 流程"
			in.Fields = []document.Field{{Label: "Имя", Value: "Zoë Ŝmith 日本 😀"}, {Label: "Café", Value: "e\u0301 € œ “quoted”"}}
			in.Signers = []document.Signer{{Name: "Zoë Ŝmith 日本", Email: "zoë@例え.jp"}}
		}), minPages: 1, maxPages: 1,
			text: []string{"(Zo\xeb ?mith ??)", "(?mega \x97 ??)", "(???)", "(Zo\xeb ?mith ?? ?)", "(Caf\xe9)", "(\xe9 \x80 \x9c \x93quoted\x94)"}},
		{name: "twenty signers", in: with(func(in *document.Input) { in.Signers = signers(20) }), minPages: 2, maxPages: 4},
		{name: "no fields", in: with(func(in *document.Input) { in.Fields = nil }), minPages: 1, maxPages: 1,
			text: []string{"(No form data.)"}},
		{name: "long form", in: with(func(in *document.Input) { in.Fields = fields(60, 2000) }), minPages: 10, maxPages: 40,
			text: []string{"(Page 10 of "}},
		{name: "100 fields of 10,000 characters", in: with(func(in *document.Input) { in.Fields = fields(100, 10_000) }), minPages: 100,
			text: []string{`(Field 1 \(continued\))`, `(Field 100 \(continued\))`}},
		{name: "a word longer than a page", in: with(func(in *document.Input) {
			in.Fields = []document.Field{{Label: strings.Repeat("L", 5000), Value: strings.Repeat("x", 100_000)}}
			in.Title = strings.Repeat("T", 10_000)
			in.Reference = strings.Repeat("r", 10_000)
			in.Signers = []document.Signer{{Name: strings.Repeat("N", 10_000), Email: strings.Repeat("e", 10_000)}}
		}), minPages: 10},
		{name: "user text that looks like anchors", in: with(func(in *document.Input) {
			in.Title = "/sn1/"
			in.WorkflowName = "/sn2/"
			in.Reference = "/SN1/"
			in.Fields = []document.Field{{Label: "/sn1/", Value: "sign at /sn1/ or /Sn2/, /sn1/sn2/, /sn10/"}}
			in.Signers = []document.Signer{{Name: "/sn1/", Email: "/sn2/"}, {Name: "B", Email: "b@example.com"}}
		}), minPages: 1, maxPages: 1,
			text: []string{"(sign at / sn1/ or / Sn2/, / sn1/ sn2/, / sn10/)"}},
		{name: "control characters, invalid UTF-8, PDF syntax", in: with(func(in *document.Input) {
			in.Title = "a\x00b\x1bc\x7fd\u0085e\xff\xfe"
			in.Fields = []document.Field{
				{Label: "tab\tand\r\nlines\rhere", Value: "(unbalanced \\ ) ) parens\nendstream\nendobj\n%%EOF"},
				{Label: "page alias", Value: "{nb} \x01pages\x01"},
			}
		}), minPages: 1, maxPages: 1,
			text: []string{"(a?b?c?d?e??)", "(tab and)", "(lines)", "(here)", "(\\(unbalanced \\\\ \\) \\) parens)", "({nb} ?pages?)"}},
		{name: "empty strings", in: document.Input{Signers: []document.Signer{{}}, CreatedAt: created}, minPages: 1, maxPages: 1,
			text: []string{"(Document)", "(Signer 1)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := document.Render(tc.in)
			require.NoError(t, err)
			p := requireValidPDF(t, out.PDF)
			require.InDelta(t, 595.28, p.width, 0.01, "A4")
			require.InDelta(t, 841.89, p.height, 0.01, "A4")
			require.GreaterOrEqual(t, p.count, tc.minPages)
			if tc.maxPages > 0 {
				require.LessOrEqual(t, p.count, tc.maxPages)
			}
			requireAnchors(t, out, len(tc.in.Signers), p)
			for _, s := range tc.text {
				require.Contains(t, string(out.PDF), s)
			}
		})
	}
}

func TestRenderSignaturePages(t *testing.T) {
	t.Parallel()
	in := small()
	in.Signers = signers(20)
	out, err := document.Render(in)
	require.NoError(t, err)
	p := requireValidPDF(t, out.PDF)

	// Blocks go down the page in order, start on a new page only when the last is full, and
	// never overlap.
	for i := 1; i < len(out.Placements); i++ {
		prev, cur := out.Placements[i-1], out.Placements[i]
		if cur.Page == prev.Page {
			require.Greater(t, cur.Y, prev.Y+prev.Height, "block %d overlaps block %d", i+1, i)
		} else {
			require.Equal(t, prev.Page+1, cur.Page)
		}
	}
	require.Equal(t, p.count, out.Placements[len(out.Placements)-1].Page, "the last page holds the last block")
}

func TestRenderDeterministic(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   func() document.Input
	}{
		{"small", small},
		{"long", func() document.Input {
			in := small()
			in.Fields = fields(40, 3000)
			in.Signers = signers(7)
			return in
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := document.Render(tc.in())
			require.NoError(t, err)
			b, err := document.Render(tc.in())
			require.NoError(t, err)
			require.True(t, bytes.Equal(a.PDF, b.PDF), "two renderings differ")

			// The same instant in another time zone is the same document.
			in := tc.in()
			in.CreatedAt = in.CreatedAt.In(time.FixedZone("UTC+9", 9*3600))
			c, err := document.Render(in)
			require.NoError(t, err)
			require.True(t, bytes.Equal(a.PDF, c.PDF), "the time zone of CreatedAt changes the document")

			in.CreatedAt = in.CreatedAt.Add(time.Second)
			d, err := document.Render(in)
			require.NoError(t, err)
			require.False(t, bytes.Equal(a.PDF, d.PDF), "CreatedAt does not reach the document")
		})
	}
}

// A document without signers (sent to a connector's system) has the form and no signature
// block.
func TestRenderWithoutSigners(t *testing.T) {
	t.Parallel()
	in := small()
	in.Signers = nil
	out, err := document.Render(in)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(out.PDF, []byte("%PDF-")))
	require.Empty(t, out.Anchors)
	require.Empty(t, out.Placements)
	with, err := document.Render(small())
	require.NoError(t, err)
	require.Less(t, len(out.PDF), len(with.PDF), "no signature block")
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change func(in *document.Input)
		err    error
	}{
		{"zero CreatedAt", func(in *document.Input) { in.CreatedAt = time.Time{} }, document.ErrNoCreatedAt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := small()
			tc.change(&in)
			out, err := document.Render(in)
			require.ErrorIs(t, err, tc.err)
			require.Empty(t, out.PDF)
		})
	}
}

func TestAnchor(t *testing.T) {
	t.Parallel()
	cases := []struct {
		i    int
		want string
	}{{0, "/sn1/"}, {1, "/sn2/"}, {9, "/sn10/"}, {19, "/sn20/"}}
	for _, tc := range cases {
		require.Equal(t, tc.want, document.Anchor(tc.i))
	}
	// No anchor contains another, so a search for one never finds one of the others.
	for i := range 200 {
		for j := range 200 {
			if i != j {
				require.NotContains(t, document.Anchor(j), document.Anchor(i))
			}
		}
	}
}

// TestGolden compares a small document with testdata/small.pdf; run with -update after an
// intended change to the layout, and look at the new file before committing it.
func TestGolden(t *testing.T) {
	t.Parallel()
	out, err := document.Render(small())
	require.NoError(t, err)
	path := filepath.Join("testdata", "small.pdf")
	if *update {
		require.NoError(t, os.WriteFile(path, out.PDF, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "no golden file: run go test ./server/internal/document -run TestGolden -update")
	require.True(t, bytes.Equal(want, out.PDF),
		"the document differs from %s: if the change is intended, run with -update and look at the new file", path)
}
