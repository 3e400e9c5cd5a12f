package document

import (
	"errors"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"
	"github.com/stretchr/testify/require"
)

func TestOutputReportsFpdfErrors(t *testing.T) {
	t.Parallel()
	r := newRenderer(Input{Signers: []Signer{{Name: "A"}}, CreatedAt: time.Unix(1, 0)})
	r.header()
	boom := errors.New("boom")
	r.pdf.SetError(boom)
	r.fields()
	_ = r.signatures()
	pdf, err := r.output()
	require.ErrorIs(t, err, boom)
	require.Nil(t, pdf)
}

func TestEncoderText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in  string
		multiline bool
		want      string
	}{
		{"ascii", "Hello, world", false, "Hello, world"},
		{"latin-1", "Zoë Café", false, "Zo\xeb Caf\xe9"},
		{"cp1252 extras", "€ “x” – — … œ Š ™", false, "\x80 \x93x\x94 \x96 \x97 \x85 \x9c \x8a \x99"},
		{"not in cp1252", "Ŝ 日本 Ω 😀", false, "? ?? ? ?"},
		{"decomposed is composed first", "e\u0301", false, "\xe9"},
		{"line breaks kept", "a\r\nb\rc\nd", true, "a\nb\nc\nd"},
		{"line breaks flattened", "a\r\nb\rc\nd", false, "a b c d"},
		{"tab", "a\tb", false, "a b"},
		{"controls", "a\x00b\x1bc\x7fd\u0085e", false, "a?b?c?d?e"},
		{"invalid UTF-8", "a\xffb\xc3", false, "a?b?"},
		{"nbsp and soft hyphen", "a\u00a0b\u00adc", false, "a\xa0b\xadc"},
		{"anchor", "/sn1/", false, "/ sn1/"},
		{"anchor in upper case", "x/SN12/y", false, "x/ SN12/y"},
		{"overlapping anchors", "/sn1/sn2/", false, "/ sn1/ sn2/"},
		{"not anchors", "/sn/ /snx/ /sn1 sn1/ /s n1/", false, "/sn/ /snx/ /sn1 sn1/ /s n1/"},
		{"anchor at the end", "a/sn3/", false, "a/ sn3/"},
		{"empty", "", true, ""},
	}
	enc := newEncoder()
	for _, tc := range cases {
		require.Equal(t, tc.want, enc.text(tc.in, tc.multiline), tc.name)
	}
}

// TestGlyphsAreFpdfs: the encoder gives every rune of the Basic Multilingual Plane from U+00A0
// the byte fpdf's own cp1252 translator gives, and '?' where that one has no glyph ('.').
func TestGlyphsAreFpdfs(t *testing.T) {
	t.Parallel()
	pdf := fpdf.New("P", "pt", "A4", "")
	translate := pdf.UnicodeTranslatorFromDescriptor("cp1252")
	require.NoError(t, pdf.Error())
	enc, known := newEncoder(), 0
	for r := rune(0xa0); r <= 0xffff; r++ {
		want := byte('?')
		if t := translate(string(r)); len(t) == 1 && t[0] >= 0x80 {
			want = t[0]
			known++
		}
		require.Equalf(t, want, enc.glyph(r), "U+%04X", r)
	}
	require.Equal(t, 96+27, known, "Latin-1's 96 from U+00A0 and cp1252's 27 extras")
}

func TestUTF16BE(t *testing.T) {
	t.Parallel()
	require.Equal(t, "\xfe\xff\x00A\x00\xe9", utf16BE("Aé"))
	require.Equal(t, "\xfe\xff\xd8\x3d\xde\x00", utf16BE("😀"), "a surrogate pair")
}
