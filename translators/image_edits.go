package translators

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Image edits (POST /v1/images/edits) arrive as OpenAI's multipart form:
// a prompt, one or more images and an optional mask. The gateway reads
// the form once into a JSON form (DecodeImageEdit) that both hops plan
// and translate on like any JSON API; OpenAI and Azure get the form back
// as multipart (EncodeImageEdit), the other schemas their own JSON bodies.

// ImageEdit is an image edits request, checked.
type ImageEdit struct {
	ImageRequest
	Images []EditFile
	Mask   *EditFile
	// Text are the form's text fields as sent, model included, in order.
	Text [][2]string
}

// EditFile is one uploaded image.
type EditFile struct {
	Field    string // the form field: image or image[]
	Filename string
	Type     string // the sniffed type: image/png, image/jpeg or image/webp
	Data     []byte
}

const (
	// maxEditImages is OpenAI's cap (gpt-image models take 16).
	maxEditImages = 16
	// maxEditFileBytes is OpenAI's per-image cap for gpt-image models.
	maxEditFileBytes = 50 << 20
	// maxEditParts bounds the form's parts, files and fields together.
	maxEditParts = 64
	// maxEditFieldBytes bounds a text field (the prompt is the longest).
	maxEditFieldBytes = maxPromptBytes
)

// editTextFields are the text fields OpenAI's edits form takes; a form
// with any other field is refused, so nothing unchecked goes upstream.
var editTextFields = []string{"model", "prompt", "n", "size", "quality", "response_format", "background",
	"input_fidelity", "output_format", "output_compression", "moderation", "user", "safety_identifier", "stream",
	"partial_images", "frame_count", "frame_duration_ms", "complexity", "markup"}

// editImageTypes are the image types the gateway sends upstream.
var editImageTypes = []string{"image/png", "image/jpeg", "image/webp"}

// DecodeImageEdit reads a multipart edits form into the JSON form the
// hops work on: {"model": ..., "prompt": ..., <text fields as strings>,
// "images": [{"field", "filename", "type", "data": base64}], "mask": {...}}.
func DecodeImageEdit(contentType string, body []byte) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, &APIError{Status: 415, Type: TypeInvalidRequest, Code: "unsupported_media_type",
			Message: "/v1/images/edits takes a multipart/form-data body (image, prompt, optional mask)"}
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	out := make([]byte, 0, len(body)*4/3+256)
	out = append(out, '{')
	var files, masks []byte
	images, parts := 0, 0
	seen := map[string]bool{}
	for {
		part, err := r.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, BadRequest("invalid_form", "the multipart body does not parse: "+err.Error())
		}
		if parts++; parts > maxEditParts {
			return nil, BadRequest("invalid_form", fmt.Sprintf("the form has more than %d parts", maxEditParts))
		}
		name := part.FormName()
		switch {
		case name == "image" || name == "image[]" || name == "mask":
			if images++; name != "mask" && images > maxEditImages {
				return nil, imageParam("image", fmt.Sprintf("at most %d images may be edited at once", maxEditImages))
			}
			f, err := readEditFile(part, name)
			if err != nil {
				return nil, err
			}
			if name == "mask" {
				if masks != nil {
					return nil, imageParam("mask", "the form has more than one mask")
				}
				masks = appendEditFile(nil, f)
				images--
				continue
			}
			if files != nil {
				files = append(files, ',')
			}
			files = appendEditFile(files, f)
		case slices.Contains(editTextFields, name):
			if seen[name] {
				return nil, imageParam(name, "form field "+name+" is repeated")
			}
			seen[name] = true
			v, err := io.ReadAll(io.LimitReader(part, maxEditFieldBytes+1))
			if err != nil {
				return nil, BadRequest("invalid_form", "reading form field "+name+": "+err.Error())
			}
			if len(v) > maxEditFieldBytes {
				return nil, imageParam(name, fmt.Sprintf("form field %s is longer than %d bytes", name, maxEditFieldBytes))
			}
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = appendJSONString(out, name)
			out = append(out, ':')
			out = appendJSONString(out, string(v))
		default:
			return nil, imageParam(cutName(name), "unknown form field "+strconv.Quote(cutName(name))+"; /v1/images/edits takes image, mask and "+strings.Join(editTextFields, ", "))
		}
	}
	if files == nil {
		return nil, imageParam("image", "image is required: one or more image files (PNG, JPEG or WebP)")
	}
	if len(out) > 1 {
		out = append(out, ',')
	}
	out = append(out, `"images":[`...)
	out = append(out, files...)
	out = append(out, ']')
	if masks != nil {
		out = append(out, `,"mask":`...)
		out = append(out, masks...)
	}
	return append(out, '}'), nil
}

func readEditFile(part *multipart.Part, field string) (EditFile, error) {
	data, err := io.ReadAll(io.LimitReader(part, maxEditFileBytes+1))
	if err != nil {
		return EditFile{}, BadRequest("invalid_form", "reading "+field+": "+err.Error())
	}
	param := strings.TrimSuffix(field, "[]")
	if len(data) > maxEditFileBytes {
		return EditFile{}, imageParam(param, fmt.Sprintf("%s is larger than %d MiB", param, maxEditFileBytes>>20))
	}
	typ := http.DetectContentType(data)
	if !slices.Contains(editImageTypes, typ) {
		return EditFile{}, imageParam(param, param+" must be a PNG, JPEG or WebP image (got "+typ+")")
	}
	return EditFile{Field: field, Filename: safeFilename(part.FileName()), Type: typ, Data: data}, nil
}

func appendEditFile(dst []byte, f EditFile) []byte {
	dst = append(dst, `{"field":`...)
	dst = appendJSONString(dst, f.Field)
	dst = append(dst, `,"filename":`...)
	dst = appendJSONString(dst, f.Filename)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, f.Type)
	dst = append(dst, `,"data":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, f.Data)
	return append(dst, `"}`...)
}

// cutName bounds a client-given name for messages and upstream forms.
func cutName(s string) string {
	if len(s) > 128 {
		s = s[:128]
	}
	return strings.ToValidUTF8(s, "")
}

// safeFilename keeps what a filename needs to name the upload upstream.
func safeFilename(s string) string {
	b := []byte(cutName(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// ParseImageEdit reads the JSON form DecodeImageEdit made.
func ParseImageEdit(body []byte) (ImageEdit, error) {
	root := gjson.ParseBytes(body)
	if !root.IsObject() || !root.Get("images").IsArray() {
		return ImageEdit{}, BadRequest("invalid_request", "/v1/images/edits takes a multipart/form-data body")
	}
	// The text fields, typed as the generations body has them.
	typed := []byte(`{}`)
	var text [][2]string
	root.ForEach(func(k, v gjson.Result) bool {
		if k.Str == "images" || k.Str == "mask" {
			return true
		}
		text = append(text, [2]string{k.Str, v.Str})
		switch k.Str {
		case "n", "output_compression", "partial_images", "frame_count", "frame_duration_ms":
			if n, err := strconv.Atoi(strings.TrimSpace(v.Str)); err == nil {
				typed = setJSON(typed, k.Str, n)
			} else {
				typed = setJSON(typed, k.Str, v.Str) // refused below as not an integer
			}
		case "stream":
			typed = setJSON(typed, k.Str, strings.TrimSpace(v.Str) == "true")
		default:
			typed = setJSON(typed, k.Str, v.Str)
		}
		return true
	})
	r, err := ParseImageRequest(typed)
	if err != nil {
		return ImageEdit{}, err
	}
	e := ImageEdit{ImageRequest: r, Text: text}
	for _, f := range root.Get("images").Array() {
		ef, err := editFileOf(f)
		if err != nil {
			return ImageEdit{}, err
		}
		e.Images = append(e.Images, ef)
	}
	if len(e.Images) == 0 {
		return ImageEdit{}, imageParam("image", "image is required")
	}
	if m := root.Get("mask"); m.Exists() {
		ef, err := editFileOf(m)
		if err != nil {
			return ImageEdit{}, err
		}
		e.Mask = &ef
	}
	return e, nil
}

func editFileOf(f gjson.Result) (EditFile, error) {
	data, err := base64.StdEncoding.DecodeString(f.Get("data").Str)
	if err != nil || !slices.Contains(editImageTypes, f.Get("type").Str) {
		return EditFile{}, imageParam("image", "an image of the request is not a PNG, JPEG or WebP image")
	}
	field := f.Get("field").Str
	if field != "image[]" && field != "mask" {
		field = "image"
	}
	return EditFile{Field: field, Filename: safeFilename(f.Get("filename").Str), Type: f.Get("type").Str, Data: data}, nil
}

// EncodeImageEdit writes the edit as OpenAI's multipart form, with model
// set to model ("" leaves it out: Azure names the deployment in the
// path). It returns the body and its content type.
func EncodeImageEdit(e ImageEdit, model string) ([]byte, string, error) {
	var b bytes.Buffer
	size := len(e.Prompt) + 1024
	for _, f := range e.Images {
		size += len(f.Data) + 256
	}
	b.Grow(size)
	w := multipart.NewWriter(&b)
	if model != "" {
		if err := w.WriteField("model", model); err != nil {
			return nil, "", err
		}
	}
	for _, kv := range e.Text {
		if kv[0] == "model" {
			continue
		}
		if err := w.WriteField(kv[0], kv[1]); err != nil {
			return nil, "", err
		}
	}
	files := e.Images
	if e.Mask != nil {
		files = append(slices.Clip(files), *e.Mask)
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		name := f.Filename
		if name == "" {
			name = "image" + extOf(f.Type)
		}
		h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": f.Field, "filename": name}))
		h.Set("Content-Type", f.Type)
		pw, err := w.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		if _, err := pw.Write(f.Data); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return b.Bytes(), w.FormDataContentType(), nil
}

func extOf(typ string) string {
	switch typ {
	case "image/jpeg":
		return ".jpg"
	case "image/webp":
		return ".webp"
	}
	return ".png"
}
