package fileparser

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/go-pdf/fpdf"
)

// textPDF makes a real PDF with one line of text per page, drawn with a
// core font (WinAnsi encoding), compressed as most producers do.
func textPDF(t testing.TB, pages ...string) []byte {
	t.Helper()
	f := fpdf.New("P", "mm", "A4", "")
	tr := f.UnicodeTranslatorFromDescriptor("")
	f.SetCompression(true)
	for _, p := range pages {
		f.AddPage()
		f.SetFont("Helvetica", "", 12)
		for _, line := range strings.Split(p, "\n") {
			f.Cell(0, 10, tr(line))
			f.Ln(10)
		}
	}
	return output(t, f)
}

// protectedPDF makes an RC4-encrypted PDF with the given user password.
func protectedPDF(t testing.TB, userPassword string) []byte {
	t.Helper()
	f := fpdf.New("P", "mm", "A4", "")
	f.SetProtection(fpdf.CnProtectPrint, userPassword, "owner-secret")
	f.AddPage()
	f.SetFont("Helvetica", "", 12)
	f.Cell(0, 10, "confidential")
	return output(t, f)
}

// drawingPDF has a page with graphics and no text layer, like a scan.
func drawingPDF(t testing.TB) []byte {
	t.Helper()
	f := fpdf.New("P", "mm", "A4", "")
	f.AddPage()
	f.Rect(10, 10, 100, 50, "F")
	return output(t, f)
}

func output(t testing.TB, f *fpdf.Fpdf) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rawPDF assembles a PDF from numbered object bodies (1-based), with a
// correct xref table, so tests can build structures no producer would.
func rawPDF(objects ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}

// cyclicPDF has a page tree whose Pages node lists itself as a kid.
func cyclicPDF() []byte {
	return rawPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [2 0 R] /Count 1000000 >>",
	)
}

func dataURL(mediaType string, data []byte) string {
	return "data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(data)
}

// chatWithFile is a chat request whose user message has a text part and
// a file part.
func chatWithFile(name, fileData string) []byte {
	return []byte(`{"model":"m","plugins":[{"id":"file-parser","pdf":{"engine":"pdf-text"}}],"messages":[` +
		`{"role":"system","content":"be brief"},` +
		`{"role":"user","content":[{"type":"text","text":"Summarize this."},` +
		`{"type":"file","file":{"filename":"` + name + `","file_data":"` + fileData + `"}}]}]}`)
}
