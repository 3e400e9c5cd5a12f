package docusignfake

import "github.com/flowhook/flowhook/server/internal/provider/fakepdf"

// PDF returns a small valid PDF with one page per text (Helvetica, one line each): what the
// fake serves as documents and what tests can send.
func PDF(pages ...string) []byte { return fakepdf.New(pages...) }
