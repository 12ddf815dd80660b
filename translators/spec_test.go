package translators

import (
	"slices"
	"testing"
)

// Every schema's static key goes in the header its provider reads, and
// only there: translators add none (a fallback re-translates without
// carrying another provider's key).
func TestSpecCredentials(t *testing.T) {
	for _, tc := range []struct {
		schema Schema
		key    string
		want   []Header
	}{
		{SchemaOpenAI, "sk-1", []Header{{"authorization", "Bearer sk-1"}}},
		{SchemaAzureOpenAI, "k1", []Header{{"api-key", "k1"}}},
		{SchemaAzureOpenAI, "Bearer eyJ0eXAi", []Header{{"authorization", "Bearer eyJ0eXAi"}}},
		{SchemaAnthropic, "sk-ant-1", []Header{{"x-api-key", "sk-ant-1"}}},
		{SchemaGemini, "AIza", []Header{{"x-goog-api-key", "AIza"}}},
		{SchemaBedrock, "ABSK-key", []Header{{"authorization", "Bearer ABSK-key"}}},
		{SchemaVertexAI, "unused", nil}, // OAuth tokens come from the auth package
		{SchemaOpenAI, "", nil},
	} {
		sp, ok := SpecFor(tc.schema)
		if !ok {
			t.Fatalf("no spec for %s", tc.schema)
		}
		if got := sp.Credentials(tc.key); !equalHeaders(got, tc.want) {
			t.Errorf("%s %q: %v, want %v", tc.schema, tc.key, got, tc.want)
		}
		for _, h := range sp.Credentials(tc.key) {
			if !slices.Contains(CredentialHeaders, h.Key) {
				t.Errorf("%s sends its key in %q, which CredentialHeaders lacks (fallbacks would carry it)", tc.schema, h.Key)
			}
		}
	}
}

// Each schema has one spec, a translator, and serves chat.
func TestSpecsComplete(t *testing.T) {
	if len(Schemas) != len(specs) {
		t.Fatalf("%d schemas, %d specs", len(Schemas), len(specs))
	}
	for _, sc := range Schemas {
		tr, err := New(sc)
		if err != nil || tr == nil {
			t.Errorf("%s: translator %v, %v", sc, tr, err)
		}
		sp, _ := SpecFor(sc)
		if !sp.ServesEndpoint(EndpointChat) {
			t.Errorf("%s does not serve chat", sc)
		}
		if _, isEmb := tr.(Embedder); isEmb != sp.ServesEndpoint(EndpointEmbeddings) {
			t.Errorf("%s: Embedder %v but spec serves embeddings %v", sc, isEmb, !isEmb)
		}
	}
	if _, err := New("nope"); err == nil {
		t.Error("unknown schema accepted")
	}
}

func TestSpecDefaults(t *testing.T) {
	v, _ := SpecFor(SchemaVertexAI)
	if got := v.BaseURL("global"); got != "https://aiplatform.googleapis.com" {
		t.Errorf("vertex global: %s", got)
	}
	if got := v.BaseURL("us-east5"); got != "https://us-east5-aiplatform.googleapis.com" {
		t.Errorf("vertex region: %s", got)
	}
	b, _ := SpecFor(SchemaBedrock)
	if got := b.RegionFromHost("bedrock-runtime.eu-west-1.amazonaws.com"); got != "eu-west-1" {
		t.Errorf("bedrock region from host: %q", got)
	}
	if got := b.RegionFromHost("proxy.example.com"); got != "" {
		t.Errorf("bedrock region from a proxy host: %q", got)
	}
}
