package document

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// cp1252 bytes that the layout itself prints; user text is already cp1252 by the time it is laid
// out, so these must be bytes, not UTF-8.
const (
	ellipsis = "\x85" // …
	emDash   = "\x97" // —
)

// encoder turns user text (UTF-8) into cp1252 (Windows-1252) for fpdf's core fonts. It is
// stateless and safe for concurrent use. (fpdf's own translator parses its code page's map on
// every call, a third of a document's rendering time, and maps a rune it cannot show to '.',
// which would pass for real text.)
type encoder struct{}

func newEncoder() encoder { return encoder{} }

// text returns s in cp1252, with anchors defused. Line breaks ("\n", "\r\n", "\r") are kept as
// "\n" if multiline, else become spaces; tabs become spaces; other control characters, invalid
// UTF-8 and characters cp1252 lacks become '?'.
func (e encoder) text(s string, multiline bool) string {
	s = norm.NFC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	prevCR := false
	for _, r := range s {
		if r == '\n' && prevCR {
			prevCR = false
			continue
		}
		prevCR = r == '\r'
		switch {
		case r == '\n' || r == '\r':
			if multiline {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		case r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError:
			b.WriteByte('?')
		case r < 0x80:
			b.WriteByte(byte(r))
		default:
			b.WriteByte(e.glyph(r))
		}
	}
	return defuse(b.String())
}

// glyph is r's cp1252 byte, or '?'. It is asked only for r >= 0xa0, which cp1252 holds, if at
// all, at 0x80 or above.
func (encoder) glyph(r rune) byte {
	if c, ok := charmap.Windows1252.EncodeRune(r); ok && c >= 0x80 {
		return c
	}
	return '?'
}

// defuse breaks every "/sn<digits>/" in s, in any letter case, by a space after the slash, so
// that user text cannot place a DocuSign tab (see the package documentation). The scan restarts
// at every slash, so overlapping runs such as "/sn1/sn2/" are defused as well.
func defuse(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '/' || !anchorAt(s, i) {
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(s) + 8)
		}
		b.WriteString(s[last : i+1])
		b.WriteByte(' ')
		last = i + 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// anchorAt reports whether s[i:] starts with "/sn<digits>/", ignoring letter case.
func anchorAt(s string, i int) bool {
	j := i + 3
	if j >= len(s) || s[i+1]|0x20 != 's' || s[i+2]|0x20 != 'n' {
		return false
	}
	k := j
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	return k > j && k < len(s) && s[k] == '/'
}

// metadata is s for the document information dictionary, which holds Unicode: valid UTF-8,
// without control characters, anchors defused.
func metadata(s string) string {
	out := make([]rune, 0, len(s))
	for _, c := range s {
		switch {
		case c == '\n' || c == '\r' || c == '\t':
			out = append(out, ' ')
		case c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0):
			out = append(out, '?')
		default:
			out = append(out, c) // invalid UTF-8 arrives here as U+FFFD, which is fine
		}
	}
	return defuse(string(out))
}

// utf16BE encodes s as a PDF text string in UTF-16BE with its byte order mark. fpdf's own
// conversion (SetTitle with isUTF8) assumes valid UTF-8 and mishandles characters outside the
// Basic Multilingual Plane.
func utf16BE(s string) string {
	units := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2+2*len(units))
	b = append(b, 0xfe, 0xff)
	for _, u := range units {
		b = append(b, byte(u>>8), byte(u))
	}
	return string(b)
}
