package document_test

import (
	"fmt"
	"time"

	"github.com/flowhook/flowhook/server/internal/document"
)

func ExampleRender() {
	out, err := document.Render(document.Input{
		Title:        "Supplier agreement",
		WorkflowName: "Supplier onboarding",
		Reference:    "0196f5b2-7c1e-7a51-9c1e-3c1d2b7a9e01",
		Fields:       []document.Field{{Label: "Company", Value: "Acme Ltd."}},
		Signers: []document.Signer{
			{Name: "Zoë Smith", Email: "zoe@acme.example"},
			{Name: "Alex Manager", Email: "alex@buyer.example"},
		},
		CreatedAt: time.Date(2026, 1, 2, 9, 30, 0, 0, time.UTC),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// DocuSign: one anchor string per signer. OneSpan: one box per signer.
	for i, anchor := range out.Anchors {
		p := out.Placements[i]
		fmt.Printf("%s page %d at (%.0f, %.0f), %.0f × %.0f pt\n", anchor, p.Page, p.X, p.Y, p.Width, p.Height)
	}
	// Output:
	// /sn1/ page 1 at (56, 256), 260 × 44 pt
	// /sn2/ page 1 at (56, 346), 260 × 44 pt
}
