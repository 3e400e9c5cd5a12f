package document_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/document"
)

// FuzzRender renders user strings in every place they can appear: Render must not fail or
// panic, the PDF must stay well formed, and each anchor must be present exactly once, at its box.
func FuzzRender(f *testing.F) {
	seeds := [][3]string{
		{"Contract", "Name", "Zoë Ŝmith 日本"},
		{"", "", ""},
		{"/sn1/", "/SN2/", "/sn1/sn2/sn3/"},
		{"(", "\\", ")\nendstream\nendobj"},
		{"\x00\x01pages\x01", "{nb}", "\r\n\t\r"},
		{"\xff\xfe\xc3", "e\u0301", "😀\u200b\u00ad\u00a0"},
		{"", "", "a very long word without any spaces at all that will not fit on a single line of the value column"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, title, label, value string) {
		in := document.Input{
			Title:        title,
			WorkflowName: label,
			Reference:    value,
			Fields:       []document.Field{{Label: label, Value: value}, {Label: value, Value: title}},
			Signers:      []document.Signer{{Name: title, Email: label}, {Name: value, Email: value}, {}},
			CreatedAt:    created,
		}
		out, err := document.Render(in)
		require.NoError(t, err)
		p := requireValidPDF(t, out.PDF)
		requireAnchors(t, out, len(in.Signers), p)
	})
}
