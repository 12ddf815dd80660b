package translators

import "strconv"

// imageEditsAPI is OpenAI's image edits (POST /v1/images/edits): a
// multipart form (DecodeImageEdit) of a prompt, images and an optional
// mask. Answers are the images API's.
var imageEditsAPI = &API{
	Endpoint: EndpointImageEdits, Path: "/v1/images/edits", ModelType: ModelTypeImage,
	decode:    DecodeImageEdit,
	Normalize: plain(func(body []byte) error { _, err := ParseImageEdit(body); return err }),
	begin: func(x *Exchange, body []byte, t Target) (Request, error) {
		ed, ok := x.tr.(ImageEditor)
		if !ok {
			return Request{}, BadRequest("image_edits_unsupported", "provider "+strconv.Quote(x.Provider)+" (schema "+string(x.spec.Schema)+") does not edit images")
		}
		e, err := ParseImageEdit(body)
		if err != nil {
			return Request{}, err
		}
		return ed.ImageEditRequest(e, t)
	},
	answer: imagesAnswer,
	stream: func(*Exchange) StreamTranslator { return &rawStream{} },
}

// ImageEditor is implemented by translators whose provider edits images;
// the answer is read as Imager's.
type ImageEditor interface {
	ImageEditRequest(e ImageEdit, t Target) (Request, error)
}

// Decodes reports whether the API's body is not JSON (DecodeBody reads
// it by its content type).
func (a *API) Decodes() bool { return a.decode != nil }

// DecodeBody turns a client body of the API's wire format into the JSON
// form the hops work on: the body itself for JSON APIs.
func (a *API) DecodeBody(contentType string, body []byte) ([]byte, error) {
	if a.decode == nil {
		return body, nil
	}
	return a.decode(contentType, body)
}
