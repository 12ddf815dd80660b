package translators

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Bedrock embeds through InvokeModel
// (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html)
// with each family's own body:
//   - Amazon Titan Text Embeddings (amazon.titan-embed-*): one input per
//     call, {"inputText"}; V2 also takes dimensions (256, 512, 1024) and
//     normalize. The answer has the vector and inputTextTokenCount.
//   - Cohere Embed (cohere.embed-*): up to 96 {"texts"} with an input_type;
//     v4 also takes output_dimension. The answer counts no tokens in its
//     body (Bedrock's X-Amzn-Bedrock-Input-Token-Count header, which this
//     method does not see, does), so prompt_tokens is 0.
//
// Credentials (SigV4 or a Bedrock API key) are added as for chat.

// bedrockEmbedFamily is the body an embeddings model id takes.
type bedrockEmbedFamily int

const (
	bedrockEmbedUnknown bedrockEmbedFamily = iota
	bedrockTitanText                       // amazon.titan-embed-text-v1 (G1)
	bedrockTitanTextV2                     // amazon.titan-embed-text-v2:0
	bedrockTitanImage                      // amazon.titan-embed-image-v1 (multimodal; text here)
	bedrockCohereV3                        // cohere.embed-english-v3, cohere.embed-multilingual-v3
	bedrockCohereV4                        // cohere.embed-v4:0
)

// bedrockEmbedFamilyOf reads the family from a model id, an inference
// profile id ("us.cohere.embed-v4:0") or an ARN naming either.
func bedrockEmbedFamilyOf(model string) bedrockEmbedFamily {
	m := strings.ToLower(model)
	switch {
	case strings.Contains(m, "amazon.titan-embed-text-v2"):
		return bedrockTitanTextV2
	case strings.Contains(m, "amazon.titan-embed-image"):
		return bedrockTitanImage
	case strings.Contains(m, "amazon.titan-embed"):
		return bedrockTitanText
	case strings.Contains(m, "cohere.embed-v4"):
		return bedrockCohereV4
	case strings.Contains(m, "cohere.embed"):
		return bedrockCohereV3
	}
	return bedrockEmbedUnknown
}

// bedrockCohereMaxTexts is the most texts Cohere Embed takes in one call.
const bedrockCohereMaxTexts = 96

func (openAIToBedrock) EmbeddingsRequest(body []byte, t Target) (Request, error) {
	if t.Model == "" {
		return Request{}, BadRequest("invalid_request", "no Bedrock model id is configured for this model")
	}
	r, err := readEmbeddings(body, SchemaBedrock)
	if err != nil {
		return Request{}, err
	}
	var b []byte
	var dropped []string
	switch fam := bedrockEmbedFamilyOf(t.Model); fam {
	case bedrockTitanText, bedrockTitanTextV2, bedrockTitanImage:
		b, dropped, err = bedrockTitanBody(r, fam)
	case bedrockCohereV3, bedrockCohereV4:
		b, dropped, err = bedrockCohereBody(r, fam)
	default:
		return Request{}, BadRequest("unsupported_model", "Bedrock model "+strconv.Quote(t.Model)+
			" has no known embeddings body; the gateway embeds with amazon.titan-embed-* and cohere.embed-* models")
	}
	if err != nil {
		return Request{}, err
	}
	out := Request{
		Path:    t.PathPrefix + "/model/" + bedrockEscapeModel(t.Model) + "/invoke",
		Headers: []Header{{"content-type", "application/json"}, {"accept", "application/json"}},
		Body:    b,
		Dropped: dropped,
	}
	return out, nil
}

func bedrockTitanBody(r embeddingsRequest, fam bedrockEmbedFamily) ([]byte, []string, error) {
	if err := r.maxTexts(1, "Amazon Titan Text Embeddings"); err != nil {
		return nil, nil, err
	}
	var dropped []string
	var err error
	if fam == bedrockTitanText {
		// G1 takes inputText and nothing else.
		if dropped, err = r.unsupported(SchemaBedrock, "dimensions"); err != nil {
			return nil, nil, err
		}
	}
	text := r.texts[0].Str
	b := make([]byte, 0, len(text)+64)
	b = append(b, `{"inputText":`...)
	b = appendJSONString(b, text)
	switch {
	case fam == bedrockTitanTextV2 && r.dimensions > 0:
		b = append(b, `,"dimensions":`...)
		b = strconv.AppendInt(b, r.dimensions, 10)
		b = append(b, `,"normalize":true`...)
	case fam == bedrockTitanTextV2:
		b = append(b, `,"normalize":true`...)
	case fam == bedrockTitanImage && r.dimensions > 0:
		b = append(b, `,"embeddingConfig":{"outputEmbeddingLength":`...)
		b = strconv.AppendInt(b, r.dimensions, 10)
		b = append(b, '}')
	}
	return append(b, '}'), dropped, nil
}

func bedrockCohereBody(r embeddingsRequest, fam bedrockEmbedFamily) ([]byte, []string, error) {
	if err := r.maxTexts(bedrockCohereMaxTexts, "Cohere Embed"); err != nil {
		return nil, nil, err
	}
	var dropped []string
	var err error
	if fam == bedrockCohereV3 {
		if dropped, err = r.unsupported(SchemaBedrock, "dimensions"); err != nil {
			return nil, nil, err
		}
	}
	inputType := "search_document"
	if v := r.root.Get("input_type"); v.Type == gjson.String && v.Str != "" {
		inputType = v.Str
	}
	size := 64
	for _, t := range r.texts {
		size += len(t.Str) + 3
	}
	b := make([]byte, 0, size)
	b = append(b, `{"texts":[`...)
	for i, t := range r.texts {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, t.Str)
	}
	b = append(b, `],"input_type":`...)
	b = appendJSONString(b, inputType)
	b = append(b, `,"embedding_types":["float"]`...)
	if fam == bedrockCohereV4 && r.dimensions > 0 {
		b = append(b, `,"output_dimension":`...)
		b = strconv.AppendInt(b, r.dimensions, 10)
	}
	return append(b, '}'), dropped, nil
}

// EmbeddingsResponse tells the families' answers apart by shape: Titan's
// {"embedding":[...],"inputTextTokenCount":n}, Cohere's
// {"embeddings":{"float":[[...]]}} (embedding_types set, as this gateway
// sends) or {"embeddings":[[...]]}.
func (openAIToBedrock) EmbeddingsResponse(body []byte) ([]byte, Usage, error) {
	root, err := embeddingsBody(body)
	if err != nil {
		return nil, Usage{}, err
	}
	l := newEmbeddingsList(len(body))
	if vec := root.Get("embedding"); vec.Exists() {
		if err := l.add(vec); err != nil {
			return nil, Usage{}, err
		}
		return l.finish("", root.Get("inputTextTokenCount").Int())
	}
	embs := root.Get("embeddings")
	if embs.IsObject() {
		embs = embs.Get("float")
	}
	if !embs.IsArray() {
		return nil, Usage{}, badEmbeddings("a body with neither 'embedding' nor float 'embeddings'")
	}
	for _, vec := range embs.Array() {
		if err := l.add(vec); err != nil {
			return nil, Usage{}, err
		}
	}
	return l.finish("", 0)
}

var _ Embedder = openAIToBedrock{}
