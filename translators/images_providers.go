package translators

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Imager is implemented by translators whose provider makes images. The
// answer side reads the body by the provider's model id (model), as the
// request side chose the API by it.
type Imager interface {
	ImagesRequest(r ImageRequest, body []byte, t Target) (Request, error)
	ImagesResponse(model string, body []byte) ([]byte, Usage, error)
}

var (
	_ Imager = openAIToOpenAI{}
	_ Imager = openAIToAzure{}
	_ Imager = openAIToGemini{}
	_ Imager = openAIToVertex{}
	_ Imager = openAIToBedrock{}
)

var jsonHeaders = []Header{{"content-type", "application/json"}}

// OpenAI: the client's body as it came, for the provider's model id,
// without the gateway's routing object.
func (openAIToOpenAI) ImagesRequest(_ ImageRequest, body []byte, t Target) (Request, error) {
	b, err := openAIImagesBody(body, "model", t.Model)
	return Request{Path: t.PathPrefix + "/images/generations", Headers: jsonHeaders, Body: b}, err
}

func (openAIToOpenAI) ImagesResponse(_ string, body []byte) ([]byte, Usage, error) {
	return openAIImagesAnswer(body)
}

// Azure names the model by deployment, in the path.
func (openAIToAzure) ImagesRequest(_ ImageRequest, body []byte, t Target) (Request, error) {
	b, err := openAIImagesBody(body, "model", "")
	version := t.APIVersion
	if version == "" {
		version = azureDefaultAPIVersion
	}
	path := t.PathPrefix + "/openai/deployments/" + url.PathEscape(t.Model) + "/images/generations?api-version=" + url.QueryEscape(version)
	return Request{Path: path, Headers: jsonHeaders, Body: b}, err
}

func (openAIToAzure) ImagesResponse(_ string, body []byte) ([]byte, Usage, error) {
	return openAIImagesAnswer(body)
}

// openAIImagesBody sets (or, with value "", removes) field and removes the
// gateway's provider object.
func openAIImagesBody(body []byte, field, value string) ([]byte, error) {
	b, err := sjson.DeleteBytes(body, "provider")
	if err == nil && value != "" {
		b, err = sjson.SetBytes(b, field, value)
	} else if err == nil {
		b, err = sjson.DeleteBytes(b, field)
	}
	if err != nil {
		return nil, BadRequest("invalid_request", "cannot prepare the images request: "+err.Error())
	}
	return b, nil
}

// openAIImagesAnswer checks an OpenAI images answer and reads its usage
// (gpt-image models count tokens; DALL·E counts images only).
func openAIImagesAnswer(body []byte) ([]byte, Usage, error) {
	data := gjson.GetBytes(body, "data")
	if !validJSON(body) || !data.IsArray() || len(data.Array()) == 0 {
		return nil, Usage{}, noImages()
	}
	n := int64(0)
	for _, d := range data.Array() {
		if d.Get("b64_json").Str == "" && d.Get("url").Str == "" {
			return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "the provider returned an image with neither b64_json nor url"}
		}
		n++
	}
	u := gjson.GetBytes(body, "usage")
	return body, Usage{PromptTokens: u.Get("input_tokens").Int(), CompletionTokens: u.Get("output_tokens").Int(), Images: n}, nil
}

// Google: Imagen models answer :predict, Gemini image models
// generateContent with an image modality.
func imagen(model string) bool { return strings.Contains(model, "imagen") }

func (openAIToGemini) ImagesRequest(r ImageRequest, _ []byte, t Target) (Request, error) {
	model := url.PathEscape(strings.TrimPrefix(t.Model, "models/"))
	base := googleVersioned(t.PathPrefix, "v1beta") + "/models/" + model
	return googleImagesRequest(r, t.Model, base)
}

func (openAIToGemini) ImagesResponse(model string, body []byte) ([]byte, Usage, error) {
	return googleImagesAnswer(model, body)
}

func (openAIToVertex) ImagesRequest(r ImageRequest, _ []byte, t Target) (Request, error) {
	base, err := vertexImageBase(t, BadRequest("images_unsupported", "model "+strconv.Quote(t.Model)+" on Vertex AI makes no images; use an Imagen or Gemini image model"))
	if err != nil {
		return Request{}, err
	}
	return googleImagesRequest(r, t.Model, base)
}

// vertexImageBase is the path of a Google model on Vertex AI, for its
// image APIs; notGoogle is the error for other publishers' models.
func vertexImageBase(t Target, notGoogle *APIError) (string, error) {
	if t.Project == "" || t.Region == "" {
		return "", &APIError{Status: 500, Type: TypeServer, Code: "provider_misconfigured", Message: "the vertex-ai provider needs a project and a region"}
	}
	if vertexPublisher(t.Model) != publisherGoogle {
		return "", notGoogle
	}
	return googleVersioned(t.PathPrefix, "v1") + "/projects/" + url.PathEscape(t.Project) + "/locations/" + url.PathEscape(t.Region) +
		"/publishers/google/models/" + url.PathEscape(t.Model), nil
}

func (openAIToVertex) ImagesResponse(model string, body []byte) ([]byte, Usage, error) {
	return googleImagesAnswer(model, body)
}

// Imagen's and Gemini's aspect ratios.
var (
	imagenRatios = []string{"1:1", "3:4", "4:3", "9:16", "16:9"}
	geminiRatios = []string{"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"}
)

func googleImagesRequest(r ImageRequest, model, base string) (Request, error) {
	if err := r.checkB64(); err != nil {
		return Request{}, err
	}
	if imagen(model) {
		if r.N > 4 {
			return Request{}, imageParam("n", "Imagen models make at most 4 images per request")
		}
		b := []byte(`{"instances":[{"prompt":""}],"parameters":{}}`)
		b = setJSON(b, "instances.0.prompt", r.Prompt)
		b = setJSON(b, "parameters.sampleCount", r.N)
		b = setJSON(b, "parameters.aspectRatio", nearestRatio(r.Width, r.Height, imagenRatios))
		return Request{Path: base + ":predict", Headers: jsonHeaders, Body: b}, nil
	}
	if r.N > 1 {
		return Request{}, imageParam("n", "Gemini image models make one image per request")
	}
	b := []byte(`{"contents":[{"role":"user","parts":[{"text":""}]}],"generationConfig":{"responseModalities":["IMAGE"]}}`)
	b = setJSON(b, "contents.0.parts.0.text", r.Prompt)
	b = setJSON(b, "generationConfig.imageConfig.aspectRatio", nearestRatio(r.Width, r.Height, geminiRatios))
	return Request{Path: base + ":generateContent", Headers: jsonHeaders, Body: b}, nil
}

func googleImagesAnswer(model string, body []byte) ([]byte, Usage, error) {
	if !validJSON(body) {
		return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned a body that is not JSON"}
	}
	var imgs []generatedImage
	var reason string
	if imagen(model) {
		// Predictions filtered for safety carry a reason and no bytes.
		gjson.GetBytes(body, "predictions").ForEach(func(_, p gjson.Result) bool {
			if b := p.Get("bytesBase64Encoded").Str; b != "" {
				imgs = append(imgs, generatedImage{B64: b, MIMEType: p.Get("mimeType").Str, RevisedPrompt: p.Get("prompt").Str})
			} else if r := p.Get("raiFilteredReason").Str; r != "" {
				reason = r
			}
			return true
		})
		if len(imgs) == 0 && reason != "" {
			return nil, Usage{}, filtered(reason)
		}
		if len(imgs) == 0 {
			return nil, Usage{}, noImages()
		}
		return openAIImages(imgs, Usage{Images: int64(len(imgs))}), Usage{Images: int64(len(imgs))}, nil
	}
	root := gjson.ParseBytes(body)
	for _, c := range root.Get("candidates").Array() {
		for _, p := range c.Get("content.parts").Array() {
			if d := p.Get("inlineData"); d.Get("data").Str != "" && strings.HasPrefix(d.Get("mimeType").Str, "image/") {
				imgs = append(imgs, generatedImage{B64: d.Get("data").Str, MIMEType: d.Get("mimeType").Str})
			}
		}
		if fr := c.Get("finishReason").Str; fr != "" && fr != "STOP" {
			reason = fr
		}
	}
	if r := root.Get("promptFeedback.blockReason").Str; r != "" {
		reason = r
	}
	if len(imgs) == 0 && reason != "" {
		return nil, Usage{}, filtered(reason)
	}
	if len(imgs) == 0 {
		return nil, Usage{}, noImages()
	}
	var gu geminiUsage
	gu.read(root.Get("usageMetadata"))
	u := gu.openAI()
	u.Images = int64(len(imgs))
	return openAIImages(imgs, u), u, nil
}

// Bedrock: Amazon's image models (Nova Canvas, Titan Image Generator)
// share one InvokeModel schema; Stability's have another.
func stability(model string) bool { return strings.Contains(model, "stability.") }

func amazonImage(model string) bool {
	return strings.Contains(model, "amazon.nova-canvas") || strings.Contains(model, "amazon.titan-image")
}

var stabilityRatios = []string{"1:1", "16:9", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"}

func (openAIToBedrock) ImagesRequest(r ImageRequest, _ []byte, t Target) (Request, error) {
	if err := r.checkB64(); err != nil {
		return Request{}, err
	}
	var b []byte
	switch {
	case amazonImage(t.Model):
		if r.N > 5 {
			return Request{}, imageParam("n", "Amazon image models make at most 5 images per request")
		}
		if r.Width%16 != 0 || r.Height%16 != 0 || r.Width < 320 || r.Height < 320 {
			return Request{}, imageParam("size", "Amazon image models need a width and height that are multiples of 16, from 320")
		}
		b = []byte(`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":""},"imageGenerationConfig":{}}`)
		b = setJSON(b, "textToImageParams.text", r.Prompt)
		b = setJSON(b, "imageGenerationConfig.numberOfImages", r.N)
		b = setJSON(b, "imageGenerationConfig.width", r.Width)
		b = setJSON(b, "imageGenerationConfig.height", r.Height)
		switch r.Quality {
		case "hd", "high":
			b = setJSON(b, "imageGenerationConfig.quality", "premium")
		case "", "auto":
		default:
			b = setJSON(b, "imageGenerationConfig.quality", "standard")
		}
	case stability(t.Model):
		if r.N > 1 {
			return Request{}, imageParam("n", "Stability models on Bedrock make one image per request")
		}
		b = []byte(`{"prompt":"","output_format":"png"}`)
		b = setJSON(b, "prompt", r.Prompt)
		b = setJSON(b, "aspect_ratio", nearestRatio(r.Width, r.Height, stabilityRatios))
	default:
		return Request{}, BadRequest("images_unsupported", "Bedrock model "+strconv.Quote(t.Model)+
			" has no known image body; the gateway makes images with amazon.nova-canvas, amazon.titan-image-generator and stability.* models")
	}
	return bedrockInvoke(t, b), nil
}

func (openAIToBedrock) ImagesResponse(model string, body []byte) ([]byte, Usage, error) {
	if !validJSON(body) {
		return nil, Usage{}, &APIError{Status: 502, Type: TypeUpstream, Code: "bad_upstream_response", Message: "provider returned a body that is not JSON"}
	}
	root := gjson.ParseBytes(body)
	if e := root.Get("error"); e.Type == gjson.String && e.Str != "" {
		return nil, Usage{}, filtered(e.Str)
	}
	// Stability: finish_reasons[i] is null for a made image, else why not.
	for _, fr := range root.Get("finish_reasons").Array() {
		if fr.Type == gjson.String && fr.Str != "" {
			return nil, Usage{}, filtered(fr.Str)
		}
	}
	var imgs []generatedImage
	root.Get("images").ForEach(func(_, v gjson.Result) bool {
		if v.Type == gjson.String && v.Str != "" {
			imgs = append(imgs, generatedImage{B64: v.Str, MIMEType: "image/png"})
		}
		return true
	})
	if len(imgs) == 0 {
		return nil, Usage{}, noImages()
	}
	u := Usage{Images: int64(len(imgs))}
	return openAIImages(imgs, u), u, nil
}

// bedrockInvoke is an InvokeModel request of an image model.
func bedrockInvoke(t Target, body []byte) Request {
	return Request{
		Path:    t.PathPrefix + "/model/" + bedrockEscapeModel(t.Model) + "/invoke",
		Headers: []Header{{"content-type", "application/json"}, {"accept", "application/json"}},
		Body:    body,
	}
}
