package routing

import (
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/config"
)

func TestParsePrefs(t *testing.T) {
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name    string
		body    string
		session string // x-session-id header
		want    Prefs  // Needs and Tokens are checked in TestParsePrefsNeeds
	}{
		{
			name: "plain model",
			body: `{"model":"chat",` + msgs + `}`,
			want: Prefs{Model: "chat", AllowFallbacks: true, PartitionByModel: true},
		},
		{
			name: ":floor sorts by price",
			body: `{"model":"chat:floor",` + msgs + `}`,
			want: Prefs{Model: "chat", Sort: SortPrice, AllowFallbacks: true, PartitionByModel: true},
		},
		{
			name: ":nitro sorts by throughput",
			body: `{"model":"chat:nitro",` + msgs + `}`,
			want: Prefs{Model: "chat", Sort: SortThroughput, AllowFallbacks: true, PartitionByModel: true},
		},
		{
			name: "other suffixes are part of the name",
			body: `{"model":"chat:free",` + msgs + `}`,
			want: Prefs{Model: "chat:free", AllowFallbacks: true, PartitionByModel: true},
		},
		{
			name: "models list without model: the first is primary",
			body: `{"models":["chat","mini","odd"],` + msgs + `}`,
			want: Prefs{Model: "chat", Fallbacks: []string{"mini", "odd"}, AllowFallbacks: true, PartitionByModel: true},
		},
		{
			name: "model plus models: duplicates and suffixes folded",
			body: `{"model":"chat","models":["chat:nitro","mini","mini:floor","chat"],` + msgs + `}`,
			want: Prefs{Model: "chat", Fallbacks: []string{"mini"}, Sort: SortPrice, AllowFallbacks: true, PartitionByModel: true},
		},
		{
			name: "empty models list",
			body: `{"model":"chat","models":[],` + msgs + `}`,
			want: Prefs{Model: "chat", AllowFallbacks: true, PartitionByModel: true},
		},
		{
			name: "no model at all",
			body: `{` + msgs + `}`,
			want: Prefs{AllowFallbacks: true, PartitionByModel: true},
		},
		{
			name: "provider object, every field",
			body: `{"model":"chat",` + msgs + `,"provider":{
				"order":["beta","alpha"],"only":["alpha","beta"],"ignore":["gamma"],
				"allow_fallbacks":false,"sort":"latency",
				"preferred_min_throughput":40,"preferred_max_latency":{"p50":1.5,"p90":4},
				"data_collection":"deny","zdr":true,
				"max_price":{"prompt":1,"completion":2.5,"request":0.01}}}`,
			want: Prefs{
				Model: "chat", Order: []string{"beta", "alpha"}, Only: []string{"alpha", "beta"}, Ignore: []string{"gamma"},
				AllowFallbacks: false, Sort: SortLatency, PartitionByModel: true, MinThroughput: 40, MaxLatency: 1.5,
				DenyDataCollection: true, ZDR: true, MaxPrice: config.Price{Prompt: 1, Completion: 2.5, Request: 0.01},
			},
		},
		{
			name: "sort object without partition",
			body: `{"model":"chat",` + msgs + `,"provider":{"sort":{"by":"price","partition":"none"},"preferred_min_throughput":{"p50":25}}}`,
			want: Prefs{Model: "chat", Sort: SortPrice, AllowFallbacks: true, PartitionByModel: false, MinThroughput: 25},
		},
		{
			name: "sort object by model",
			body: `{"model":"chat",` + msgs + `,"provider":{"sort":{"by":"throughput","partition":"model"}}}`,
			want: Prefs{Model: "chat", Sort: SortThroughput, AllowFallbacks: true, PartitionByModel: true},
		},
		{
			name: "provider sort overrides the suffix",
			body: `{"model":"chat:nitro",` + msgs + `,"provider":{"sort":"price"}}`,
			want: Prefs{Model: "chat", Sort: SortPrice, AllowFallbacks: true, PartitionByModel: true},
		},
		{
			name: "null sort and allow data collection",
			body: `{"model":"chat",` + msgs + `,"provider":{"sort":null,"data_collection":"allow","allow_fallbacks":true}}`,
			want: Prefs{Model: "chat", AllowFallbacks: true, PartitionByModel: true},
		},
		{
			name:    "session from the header",
			body:    `{"model":"chat",` + msgs + `}`,
			session: "hdr-1",
			want:    Prefs{Model: "chat", Session: "hdr-1", AllowFallbacks: true, PartitionByModel: true},
		},
		{
			name:    "session_id in the body wins over the header",
			body:    `{"model":"chat","session_id":"body-1",` + msgs + `}`,
			session: "hdr-1",
			want:    Prefs{Model: "chat", Session: "body-1", AllowFallbacks: true, PartitionByModel: true},
		},
		{
			name:    "empty session_id keeps the header",
			body:    `{"model":"chat","session_id":"",` + msgs + `}`,
			session: "hdr-1",
			want:    Prefs{Model: "chat", Session: "hdr-1", AllowFallbacks: true, PartitionByModel: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePrefs([]byte(tc.body), tc.session)
			if err != nil {
				t.Fatalf("ParsePrefs: %v", err)
			}
			got.Needs, got.Tokens, got.need = nil, 0, nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParsePrefs =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestParsePrefsErrors(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantCode string
		wantMsg  string
	}{
		{name: "model not a string", body: `{"model":4}`, wantCode: "invalid_model", wantMsg: "'model' must be a string"},
		{name: "model null", body: `{"model":null}`, wantCode: "invalid_model", wantMsg: "'model' must be a string"},
		{name: "models not an array", body: `{"models":"chat"}`, wantCode: "invalid_models", wantMsg: "'models' must be an array of model names"},
		{name: "models with a number", body: `{"models":["chat",4]}`, wantCode: "invalid_models", wantMsg: "'models' must be an array of model names"},
		{name: "models with an empty name", body: `{"models":["chat",""]}`, wantCode: "invalid_models", wantMsg: "'models' must be an array of model names"},
		{name: "provider not an object", body: `{"model":"chat","provider":"alpha"}`, wantCode: "invalid_provider", wantMsg: "'provider' must be an object"},
		{name: "provider array", body: `{"model":"chat","provider":["alpha"]}`, wantCode: "invalid_provider", wantMsg: "'provider' must be an object"},
		{name: "order not an array", body: `{"model":"chat","provider":{"order":"alpha"}}`, wantCode: "invalid_provider", wantMsg: "provider.order must be an array of provider names"},
		{name: "only with a number", body: `{"model":"chat","provider":{"only":["alpha",1]}}`, wantCode: "invalid_provider", wantMsg: "provider.only must be an array of provider names"},
		{name: "ignore an object", body: `{"model":"chat","provider":{"ignore":{"alpha":true}}}`, wantCode: "invalid_provider", wantMsg: "provider.ignore must be an array of provider names"},
		{name: "sort a number", body: `{"model":"chat","provider":{"sort":5}}`, wantCode: "invalid_provider", wantMsg: "provider.sort must be a string or {by, partition}"},
		{name: "sort unknown", body: `{"model":"chat","provider":{"sort":"cheapest"}}`, wantCode: "invalid_provider", wantMsg: `provider.sort "cheapest" is not one of price, throughput, latency`},
		{name: "sort object unknown key", body: `{"model":"chat","provider":{"sort":{"by":"fast"}}}`, wantCode: "invalid_provider", wantMsg: `provider.sort "fast" is not one of price, throughput, latency`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePrefs([]byte(tc.body), "")
			if err == nil {
				t.Fatal("ParsePrefs succeeded, want an error")
			}
			if err.Status != 400 || err.Type != "invalid_request_error" || err.Code != tc.wantCode {
				t.Errorf("error = %d %s %s, want 400 invalid_request_error %s", err.Status, err.Type, err.Code, tc.wantCode)
			}
			if err.Message != tc.wantMsg {
				t.Errorf("message = %q, want %q", err.Message, tc.wantMsg)
			}
		})
	}
}

func TestParsePrefsNeeds(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantNeeds []string
		wantExtra int // Tokens beyond len(body)/4
	}{
		{name: "plain text", body: `{"model":"m","messages":[{"role":"user","content":"hi"}]}`},
		{name: "tools", body: `{"model":"m","tools":[{"type":"function","function":{"name":"f"}}],"messages":[]}`, wantNeeds: []string{config.CapTools}},
		{name: "empty tools", body: `{"model":"m","tools":[],"messages":[]}`},
		{name: "json schema", body: `{"model":"m","response_format":{"type":"json_schema","json_schema":{}},"messages":[]}`, wantNeeds: []string{config.CapJSONSchema}},
		{name: "json object is no schema", body: `{"model":"m","response_format":{"type":"json_object"},"messages":[]}`},
		{name: "reasoning object", body: `{"model":"m","reasoning":{"effort":"high"},"messages":[]}`, wantNeeds: []string{config.CapReasoning}},
		{name: "reasoning effort", body: `{"model":"m","reasoning_effort":"low","messages":[]}`, wantNeeds: []string{config.CapReasoning}},
		{
			name:      "image in a later message",
			body:      `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:,"}}]}]}`,
			wantNeeds: []string{config.CapVision},
		},
		{
			name:      "image after a text part, then another text part",
			body:      `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:,"}},{"type":"text","text":"?"}]}]}`,
			wantNeeds: []string{config.CapVision},
		},
		{
			name:      "everything",
			body:      `{"model":"m","tools":[{}],"response_format":{"type":"json_schema"},"reasoning_effort":"high","messages":[{"role":"user","content":[{"type":"image_url"}]}]}`,
			wantNeeds: []string{config.CapTools, config.CapJSONSchema, config.CapReasoning, config.CapVision},
		},
		{
			// The fast path looks for the bytes "image_url": an escape
			// spelling them must not hide the image.
			name:      "image type spelled with an escape",
			body:      `{"model":"m","messages":[{"role":"user","content":[{"type":"image\u005furl","image_url":{"url":"data:,"}}]}]}`,
			wantNeeds: []string{config.CapVision},
		},
		{name: "image_url only in the text", body: `{"model":"m","messages":[{"role":"user","content":"what is an image_url part?"}]}`},
		{name: "max_completion_tokens counted", body: `{"model":"m","max_completion_tokens":500,"max_tokens":9,"messages":[]}`, wantExtra: 500},
		{name: "max_tokens counted", body: `{"model":"m","max_tokens":300,"messages":[]}`, wantExtra: 300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePrefs([]byte(tc.body), "")
			if err != nil {
				t.Fatalf("ParsePrefs: %v", err)
			}
			if !reflect.DeepEqual(p.Needs, tc.wantNeeds) {
				t.Errorf("Needs = %q, want %q", p.Needs, tc.wantNeeds)
			}
			if want := len(tc.body)/4 + tc.wantExtra; p.Tokens != want {
				t.Errorf("Tokens = %d, want %d", p.Tokens, want)
			}
		})
	}

	// A big prompt estimates about four bytes a token.
	body := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("word ", 8000) + `"}]}`
	p, _ := ParsePrefs([]byte(body), "")
	if p.Tokens < 9000 || p.Tokens > 11000 {
		t.Errorf("Tokens of a 40 KB prompt = %d, want about 10000", p.Tokens)
	}
}

// TestContextCounted: for a chat body the context check counts with each
// provider model's tokenizer (plugins/compress), not at four bytes a
// token, and adds the margin for models it only approximates.
func TestContextCounted(t *testing.T) {
	cat := loadCatalog(t, `providers:
  - {name: oa, schema: openai, base_url: "https://oa.example.test/v1"}
  - {name: an, schema: anthropic, base_url: "https://an.example.test/v1"}
models:
  - name: m
    context_length: 300
    providers:
      - {provider: oa, model: gpt-4o}
      - {provider: an, model: claude-sonnet-4-5}
`)
	msg := func(text string) string {
		return `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"` + text + `"}]}`
	}
	tests := []struct {
		name        string
		body        string
		want        string
		wantSkipped []string
	}{
		// "hi" and 250 " hello"s: 251 tokens, a prompt of 3 + 4 + 1 + 251 =
		// 259, and 10 for the completion: 269 on gpt-4o, where four bytes a
		// token would say 386. With Claude's 30% margin: 337 + 10.
		{name: "prose", body: msg("hi" + strings.Repeat(" hello", 250)),
			want: "[oa@m]", wantSkipped: []string{"m on an: context length 300 is below the ~347 tokens this request needs"}},
		// 150 " 7"s: 300 tokens in 300 bytes, about 90 at four bytes a
		// token. A prompt of 308: 318, and 401 + 10 with the margin.
		{name: "digits", body: msg(strings.Repeat(" 7", 150)),
			want: "", wantSkipped: []string{
				"m on oa: context length 300 is below the ~318 tokens this request needs",
				"m on an: context length 300 is below the ~411 tokens this request needs"}},
		{name: "short", body: msg("hello"), want: "[an@m oa@m]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, perr := ParsePrefs([]byte(tc.body), "")
			if perr != nil {
				t.Fatal(perr)
			}
			plan, err := Build(cat, config.Policy{}, 10, p, nil)
			var skipped []string
			for _, s := range plan.Skipped {
				skipped = append(skipped, s.String())
			}
			if tc.want == "" {
				// Too long for every provider: a 400 before any call.
				if err == nil || err.Status != 400 || err.Code != "context_length_exceeded" || !strings.Contains(err.Message, "middle-out") {
					t.Fatalf("plan %s, err %v; want 400 context_length_exceeded", show(plan.Groups), err)
				}
			} else if err != nil || levels(plan.Groups) != tc.want {
				t.Fatalf("plan %s (%v), want %s", levels(plan.Groups), err, tc.want)
			}
			if strings.Join(skipped, "; ") != strings.Join(tc.wantSkipped, "; ") {
				t.Errorf("skipped %q\nwant %q", skipped, tc.wantSkipped)
			}
		})
	}
}
