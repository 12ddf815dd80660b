package e2e

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// TestModelsList lists a model of every schema through Envoy with the
// openai-go SDK: the list comes from the config whatever the schema, and
// each entry carries its own owner, context length and per-token prices.
func TestModelsList(t *testing.T) {
	s := newSchemasSetup(t)
	var raw *http.Response
	page, err := s.client.Models.List(ctxT(t), option.WithResponseInto(&raw))
	if err != nil {
		t.Fatal(err)
	}
	if raw.Header.Get("server") != "envoy" || raw.Header.Get("content-type") != "application/json" {
		t.Fatalf("headers %v", raw.Header)
	}
	byID := map[string]string{}
	var ids []string
	for _, m := range page.Data {
		byID[m.ID] = m.RawJSON()
		ids = append(ids, m.ID)
	}

	for _, tc := range []struct {
		schema, id, ownedBy string
		want                string // the entry, exactly
	}{
		{"openai", mxOpenAI, "openai",
			`{"id":"mx-openai","object":"model","created":0,"owned_by":"openai","context_length":1047576,"providers":["fake-openai"],"pricing":{"prompt":"0.000002","completion":"0.000008","input_cache_read":"0.0000005"}}`},
		{"azure-openai", mxAzure, "microsoft",
			`{"id":"mx-azure","object":"model","created":0,"owned_by":"microsoft","context_length":128000,"providers":["fake-azure"],"pricing":{"prompt":"0.00000015","completion":"0.0000006"}}`},
		{"anthropic", mxAnthropic, "anthropic",
			`{"id":"mx-anthropic","object":"model","created":0,"owned_by":"anthropic","context_length":200000,"providers":["fake-anthropic"],"pricing":{"prompt":"0.000003","completion":"0.000015","input_cache_read":"0.0000003"}}`},
		{"gemini", mxGemini, "google",
			`{"id":"mx-gemini","object":"model","created":0,"owned_by":"google","context_length":1048576,"providers":["fake-gemini"],"pricing":{"prompt":"0.0000003","completion":"0.0000025"}}`},
		// No owned_by in the config: the first provider's name.
		{"vertex-ai gemini", mxVertexGemini, "fake-vertex",
			`{"id":"mx-vertex-gemini","object":"model","created":0,"owned_by":"fake-vertex","context_length":1048576,"providers":["fake-vertex"],"pricing":{"prompt":"0.00000125","completion":"0.00001"}}`},
		{"vertex-ai claude", mxVertexClaude, "anthropic",
			`{"id":"mx-vertex-claude","object":"model","created":0,"owned_by":"anthropic","context_length":200000,"providers":["fake-vertex"],"pricing":{"prompt":"0.000003","completion":"0.000015","request":"0.001"}}`},
		{"bedrock", mxBedrock, "anthropic",
			`{"id":"mx-bedrock","object":"model","created":0,"owned_by":"anthropic","context_length":200000,"capabilities":["tools","vision"],"providers":["fake-bedrock"],"pricing":{"prompt":"0.000003","completion":"0.000015"}}`},
		// Unpriced, no context length: neither field is shown.
		{"vertex-ai claude without a price", mxVertexBroken, "vertex-refused",
			`{"id":"mx-vertex-claude-no-token","object":"model","created":0,"owned_by":"vertex-refused","providers":["vertex-refused"]}`},
	} {
		t.Run(tc.schema, func(t *testing.T) {
			got, ok := byID[tc.id]
			if !ok {
				t.Fatalf("%s not listed; listed: %v", tc.id, ids)
			}
			if got != tc.want {
				t.Fatalf("entry\n got  %s\n want %s", got, tc.want)
			}
			for _, m := range page.Data {
				if m.ID == tc.id && (m.OwnedBy != tc.ownedBy || m.Object != "model") {
					t.Fatalf("SDK sees owned_by %q object %q", m.OwnedBy, m.Object)
				}
			}
		})
	}

	t.Run("config order, chat and embeddings models alike", func(t *testing.T) {
		want := []string{mxOpenAI, mxAzure, mxAnthropic, mxGemini, mxVertexGemini, mxVertexClaude, mxBedrock, mxBedrockNova, mxVertexBroken, mxEmbedClaude, mxEmbedVertexCl}
		if len(ids) != len(want) {
			t.Fatalf("ids %v, want %v", ids, want)
		}
		for i := range want {
			if ids[i] != want[i] {
				t.Fatalf("ids %v, want %v", ids, want)
			}
		}
		if gjson.Get(byID[mxEmbedClaude], "owned_by").Str != "fake-anthropic" {
			t.Fatalf("embeddings entry %s", byID[mxEmbedClaude])
		}
	})

	t.Run("no provider is asked", func(t *testing.T) {
		for _, f := range []*fakeprovider.Server{s.openai, s.azure, s.anthropic, s.gemini, s.vertex, s.bedrock} {
			if rs := f.Requests(); len(rs) != 0 {
				t.Fatalf("a provider got %s %s for the model list", rs[0].Method, rs[0].Path)
			}
		}
		if n := s.tokens.count(); n != 0 {
			t.Fatalf("%d token grants for the model list", n)
		}
	})
}

// TestModelPrices: the model list shows prices as OpenRouter does, USD per
// token as short decimal strings. gpt-4.1-mini's real price, $0.40 and
// $1.60 per million tokens with cached input at $0.10, must read
// "0.0000004", "0.0000016" and "0.0000001", not a float's rounding noise.
func TestModelPrices(t *testing.T) {
	up := fakeprovider.New(t)
	gw := startGateway(t, fmt.Sprintf(`providers:
  - name: up
    schema: openai
    base_url: %s/v1
models:
  - name: gpt-4.1-mini
    providers: [{provider: up, pricing: {prompt: 0.4, completion: 1.6, cached_prompt: 0.1}}]
  - name: claude-vertex
    providers: [{provider: up, pricing: {prompt: 3.3, completion: 16.5}}]
`, up.URL()))
	resp, err := http.Get(gw.url("/v1/models"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d err %v", resp.StatusCode, err)
	}
	for _, tc := range []struct{ model, want string }{
		{"gpt-4.1-mini", `{"prompt":"0.0000004","completion":"0.0000016","input_cache_read":"0.0000001"}`},
		// Vertex's regional Claude price, 10% above the global one.
		{"claude-vertex", `{"prompt":"0.0000033","completion":"0.0000165"}`},
	} {
		t.Run(tc.model, func(t *testing.T) {
			if got := gjson.GetBytes(body, `data.#(id=="`+tc.model+`").pricing`).Raw; got != tc.want {
				t.Fatalf("pricing %s, want %s", got, tc.want)
			}
		})
	}
}
