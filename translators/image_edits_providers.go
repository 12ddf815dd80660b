package translators

import (
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
)

var (
	_ ImageEditor = openAIToOpenAI{}
	_ ImageEditor = openAIToAzure{}
	_ ImageEditor = openAIToGemini{}
	_ ImageEditor = openAIToVertex{}
	_ ImageEditor = openAIToBedrock{}
)

// OpenAI: the form as the client sent it, for the provider's model id.
func (openAIToOpenAI) ImageEditRequest(e ImageEdit, t Target) (Request, error) {
	return openAIEdit(e, t.Model, t.PathPrefix+"/images/edits")
}

// Azure names the model by deployment, in the path.
func (openAIToAzure) ImageEditRequest(e ImageEdit, t Target) (Request, error) {
	version := t.APIVersion
	if version == "" {
		version = azureDefaultAPIVersion
	}
	return openAIEdit(e, "", t.PathPrefix+"/openai/deployments/"+url.PathEscape(t.Model)+"/images/edits?api-version="+url.QueryEscape(version))
}

func openAIEdit(e ImageEdit, model, path string) (Request, error) {
	b, ctype, err := EncodeImageEdit(e, model)
	if err != nil {
		return Request{}, &APIError{Status: 500, Type: TypeServer, Code: "internal_error", Message: "cannot encode the edits form: " + err.Error()}
	}
	return Request{Path: path, Headers: []Header{{"content-type", ctype}}, Body: b}, nil
}

// Gemini image models edit from the prompt and the images, given as
// parts of one user turn; Imagen's edit API is not served.
func (openAIToGemini) ImageEditRequest(e ImageEdit, t Target) (Request, error) {
	model := url.PathEscape(strings.TrimPrefix(t.Model, "models/"))
	return googleEditRequest(e, t.Model, googleVersioned(t.PathPrefix, "v1beta")+"/models/"+model)
}

func (openAIToVertex) ImageEditRequest(e ImageEdit, t Target) (Request, error) {
	base, err := vertexImageBase(t, BadRequest("image_edits_unsupported", "model "+strconv.Quote(t.Model)+" on Vertex AI does not edit images; use a Gemini image model"))
	if err != nil {
		return Request{}, err
	}
	return googleEditRequest(e, t.Model, base)
}

func googleEditRequest(e ImageEdit, model, base string) (Request, error) {
	if imagen(model) {
		return Request{}, BadRequest("image_edits_unsupported", "Imagen model "+strconv.Quote(model)+" is not served for edits; use a Gemini image model")
	}
	if err := e.checkEdit("Gemini image models"); err != nil {
		return Request{}, err
	}
	if e.N > 1 {
		return Request{}, imageParam("n", "Gemini image models make one image per request")
	}
	b := []byte(`{"contents":[{"role":"user","parts":[{"text":""}]}],"generationConfig":{"responseModalities":["IMAGE"]}}`)
	b = setJSON(b, "contents.0.parts.0.text", e.Prompt)
	for _, f := range e.Images {
		part := []byte(`{"inlineData":{"mimeType":"","data":""}}`)
		part = setJSON(part, "inlineData.mimeType", f.Type)
		part = setJSON(part, "inlineData.data", base64.StdEncoding.EncodeToString(f.Data))
		b = setRawJSON(b, "contents.0.parts.-1", part)
	}
	return Request{Path: base + ":generateContent", Headers: jsonHeaders, Body: b}, nil
}

// checkEdit refuses what translated providers cannot do: a mask (their
// masks mean other things) and url answers.
func (e ImageEdit) checkEdit(who string) error {
	if e.Mask != nil {
		return imageParam("mask", who+" take no mask; describe the change in the prompt, or use an OpenAI image model")
	}
	return e.checkB64()
}

// Bedrock: Amazon's models vary the images by the prompt
// (IMAGE_VARIATION, up to 5 images); Stability's take one image
// (image-to-image).
func (openAIToBedrock) ImageEditRequest(e ImageEdit, t Target) (Request, error) {
	if err := e.checkEdit("Bedrock image models"); err != nil {
		return Request{}, err
	}
	var b []byte
	switch {
	case amazonImage(t.Model):
		if len(e.Images) > 5 {
			return Request{}, imageParam("image", "Amazon image models vary at most 5 images")
		}
		if e.N > 5 {
			return Request{}, imageParam("n", "Amazon image models make at most 5 images per request")
		}
		b = []byte(`{"taskType":"IMAGE_VARIATION","imageVariationParams":{"text":"","images":[]},"imageGenerationConfig":{}}`)
		b = setJSON(b, "imageVariationParams.text", e.Prompt)
		for _, f := range e.Images {
			b = setJSON(b, "imageVariationParams.images.-1", base64.StdEncoding.EncodeToString(f.Data))
		}
		b = setJSON(b, "imageGenerationConfig.numberOfImages", e.N)
	case stability(t.Model):
		if len(e.Images) != 1 {
			return Request{}, imageParam("image", "Stability models on Bedrock edit one image")
		}
		if e.N > 1 {
			return Request{}, imageParam("n", "Stability models on Bedrock make one image per request")
		}
		b = []byte(`{"prompt":"","mode":"image-to-image","image":"","strength":0.7,"output_format":"png"}`)
		b = setJSON(b, "prompt", e.Prompt)
		b = setJSON(b, "image", base64.StdEncoding.EncodeToString(e.Images[0].Data))
	default:
		return Request{}, BadRequest("image_edits_unsupported", "Bedrock model "+strconv.Quote(t.Model)+
			" has no known edit body; the gateway edits images with amazon.nova-canvas, amazon.titan-image-generator and stability.* models")
	}
	return bedrockInvoke(t, b), nil
}
