package document_test

import (
	"testing"
	"time"

	"github.com/flowhook/flowhook/server/internal/document"
)

// BenchmarkRender renders what a start into a signing state renders: a short form and two
// signers.
func BenchmarkRender(b *testing.B) {
	in := document.Input{
		Title:        "Supplier agreement",
		WorkflowName: "Supplier onboarding",
		Reference:    "0196f5b2-7c1e-7a51-9c1e-3c1d2b7a9e01",
		Fields: []document.Field{
			{Label: "Company", Value: "Acme Ltd."},
			{Label: "Amount", Value: "12 500 €"},
			{Label: "Notes", Value: "Deliveries on Mondays; invoices “net 30”."},
		},
		Signers: []document.Signer{
			{Name: "Zoë Smith", Email: "zoe@acme.example"},
			{Name: "Alex Manager", Email: "alex@buyer.example"},
		},
		CreatedAt: time.Date(2026, 1, 2, 9, 30, 0, 0, time.UTC),
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := document.Render(in); err != nil {
			b.Fatal(err)
		}
	}
}
