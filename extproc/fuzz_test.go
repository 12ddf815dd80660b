package extproc

import (
	"context"
	"strings"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/config"

	"github.com/switchboard-gw/switchboard/xds"
)

// FuzzHopBodies drives the router hop and the upstream hop's request
// phase with arbitrary bodies on every API path: whatever comes, each
// answers (never nil, never a panic), and what the router hop refuses is
// a 4xx/5xx immediate response in the path's error shape.
func FuzzHopBodies(f *testing.F) {
	for _, seed := range []string{
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"claude-sonnet","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"gpt-4o","model":"tiered","messages":[]}`,
		`{"model":"gpt-4o","models":["tiered","claude-sonnet"],"provider":{"order":["anthropic"],"only":["openai"]},"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:,"}}]}]}`,
		`{"model":"gpt-4o","input":["a","b"]}`,
		`{"x":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`,
		`{"model":"` + strings.Repeat("\\u0000", 100) + `"}`,
		`{"model":"gpt-4o","prompt":"a fox","n":3,"size":"1024x1024","response_format":"url"}`,
	} {
		for _, path := range []string{xds.ChatPath, xds.MessagesPath, xds.EmbeddingsPath, "/v1/images/generations"} {
			f.Add(path, []byte(seed))
		}
	}
	cfg := mustLoad(f, testYAML)
	srv, err := NewServer(zap.NewNop(), staticConfig{cfg})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		r := &routerProcessor{s: srv, cfg: cfg}
		if resp := r.requestHeaders(ctx, postHeaders(":path", path).GetRequestHeaders(), nil); resp == nil {
			t.Fatal("router hop: no answer to the headers")
		} else if resp.GetImmediateResponse() != nil {
			return
		}
		resp := r.requestBody(ctx, &extprocv3.HttpBody{Body: body, EndOfStream: true})
		if resp == nil {
			t.Fatal("router hop: no answer to the body")
		}
		if ir := resp.GetImmediateResponse(); ir != nil {
			if c := ir.GetStatus().GetCode(); c < 400 {
				t.Fatalf("refusal with status %d", c)
			}
			return
		}
		for _, prov := range []string{"openai", "anthropic"} {
			u := &upstreamProcessor{s: srv, cfg: cfg}
			req := attempt{provider: prov, model: "tiered", n: 1}.headers()
			req.MetadataContext.FilterMetadata[xds.RequestNamespace].Fields["endpoint"] = strValue(path)
			u.requestHeaders(ctx, req.GetRequestHeaders(), req.GetMetadataContext())
			if u.requestBody(ctx, &extprocv3.HttpBody{Body: body, EndOfStream: true}) == nil {
				t.Fatal("upstream hop: no answer to the body")
			}
			u.done()
		}
	})
}

// staticConfig serves one config, for tests that call processors
// directly.
type staticConfig struct{ l *config.Loaded }

func (s staticConfig) Current() *config.Loaded { return s.l }

func strValue(s string) *structpb.Value { return structpb.NewStringValue(s) }
