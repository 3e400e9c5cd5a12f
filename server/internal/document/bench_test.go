package document_test

import (
	"testing"

	"github.com/flowhook/flowhook/server/internal/document"
)

// BenchmarkRender renders what a start into a signing state renders: a one-page form with two
// signers (small).
func BenchmarkRender(b *testing.B) {
	in := small()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := document.Render(in); err != nil {
			b.Fatal(err)
		}
	}
}
