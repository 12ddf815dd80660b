package translators

import "strconv"

// imagesAPI is OpenAI's image generation (POST /v1/images/generations),
// served by image models. Answers are whole (the gateway refuses stream),
// carry the provider's usage, and usage.cost when the model is priced
// (per image, per token, or both).
var imagesAPI = &API{
	Endpoint: EndpointImages, Path: "/v1/images/generations", ModelType: ModelTypeImage,
	Normalize: plain(func(body []byte) error { _, err := ParseImageRequest(body); return err }),
	begin: func(x *Exchange, body []byte, t Target) (Request, error) {
		im, ok := x.tr.(Imager)
		if !ok {
			return Request{}, BadRequest("images_unsupported", "provider "+strconv.Quote(x.Provider)+" (schema "+string(x.spec.Schema)+") makes no images")
		}
		r, err := ParseImageRequest(body)
		if err != nil {
			return Request{}, err
		}
		return im.ImagesRequest(r, body, t)
	},
	answer: imagesAnswer,
	stream: func(*Exchange) StreamTranslator { return &rawStream{} },
}

// imagesAnswer reads an images answer (generations and edits) in
// OpenAI's shape, priced.
func imagesAnswer(x *Exchange, body []byte) ([]byte, Usage, error) {
	im, ok := x.tr.(Imager)
	if !ok {
		return nil, Usage{}, BadRequest("images_unsupported", "schema "+string(x.spec.Schema)+" makes no images")
	}
	out, u, err := im.ImagesResponse(x.Model, body)
	if err != nil {
		return nil, u, err
	}
	if fields, ok := x.costFields(u); ok {
		out = setCost(out, fields)
	}
	return out, u, nil
}
