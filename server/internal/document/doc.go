// Package document renders an instance's start-form data into the PDF that is sent out for
// signature when the instance reaches a signature step.
//
// The document is A4: the title, the workflow name and the creation date; the form's fields as
// a two-column list of label and value (values wrap, long forms flow onto further pages); then
// one signature block per signer with a line to sign on, the signer's name and email. Every page
// carries "Page N of M" and the reference in its footer.
//
// # Signature placement
//
// Providers place signature fields in one of two ways, and Render serves both:
//
//   - DocuSign finds an anchor string in the document's text and puts the signer's tab there.
//     Anchor(i) is signer i's anchor ("/sn1/", "/sn2/", …). It is drawn in 6 pt white text at
//     the upper-left corner of the signer's signature box, where DocuSign aligns the upper-left
//     corner of the tab, so it is found as text but not seen by a reader. DocuSign puts a tab at
//     every occurrence of an anchor, so text from users that would read as an anchor (a value
//     "/sn1/", in any letter case) is defused by a space after its first slash ("/ sn1/"): each
//     anchor occurs exactly once, at its block.
//   - OneSpan places fields by position: Output.Placements[i] is signer i's signature box, in PDF
//     points with the origin at the top-left of the page and pages numbered from 1.
//
// Content streams are written uncompressed. DocuSign would parse a compressed stream as well,
// but uncompressed streams keep each anchor literally in the PDF bytes, so that Render's own
// tests (and anyone diagnosing a missing tab) can check with a byte search, without a PDF
// parser, that every anchor is present once. The cost is small: the core fonts are not embedded,
// so only the page text goes uncompressed.
//
// # Text
//
// Text is drawn with the PDF core fonts (Helvetica), whose encoding is cp1252. User text is
// normalised to NFC and encoded as Windows-1252 (x/text's charmap); a character that cp1252 cannot
// show (Cyrillic, CJK, emoji, control characters, invalid UTF-8) becomes "?" rather than an
// error. Sizes are not limited here (the engine validates them), but nothing in the layout grows
// worse than linearly with the input: a form of 100 fields of 10,000 characters renders to a few
// hundred pages.
//
// # Determinism
//
// The same Input gives the same bytes: the creation and modification dates are Input.CreatedAt,
// the producer is fixed, and fpdf's resource catalogs are sorted.
package document
