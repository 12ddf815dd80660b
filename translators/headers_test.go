package translators

import "testing"

func TestForwardsHeaders(t *testing.T) {
	req := []struct {
		schema Schema
		name   string
		want   bool
	}{
		{SchemaOpenAI, "content-type", true},
		{SchemaOpenAI, ":path", true},
		{SchemaOpenAI, "openai-organization", false},
		{SchemaOpenAI, "cookie", false},
		{SchemaOpenAI, "anthropic-beta", false},
		{SchemaAnthropic, "anthropic-beta", true},
		{SchemaVertexAI, "anthropic-beta", false},
		{SchemaGemini, "x-goog-user-project", false},
		{SchemaBedrock, "x-forwarded-for", false},
		{SchemaAzureOpenAI, "x-envoy-expected-rq-timeout-ms", false},
	}
	for _, tc := range req {
		if got := ForwardsRequestHeader(tc.schema, tc.name); got != tc.want {
			t.Errorf("ForwardsRequestHeader(%s, %s) = %v, want %v", tc.schema, tc.name, got, tc.want)
		}
	}
	for name, want := range map[string]bool{":status": true, "content-type": true, "date": true,
		"set-cookie": false, "openai-organization": false, "x-ratelimit-remaining-requests": false, "x-request-id": false} {
		if got := ForwardsResponseHeader(name); got != want {
			t.Errorf("ForwardsResponseHeader(%s) = %v, want %v", name, got, want)
		}
	}
}
