package xds

import (
	"strings"
	"testing"

	celv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/filters/cel/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// celOf returns a mapper's CEL condition and its response flags.
func celOf(t *testing.T, m *hcmv3.ResponseMapper) (string, []string) {
	t.Helper()
	f := m.GetFilter()
	var flags []string
	if and := f.GetAndFilter(); and != nil {
		flags = and.GetFilters()[0].GetResponseFlagFilter().GetFlags()
		f = and.GetFilters()[1]
	}
	return unpack(t, f.GetExtensionFilter().GetTypedConfig(), &celv3.ExpressionFilter{}).GetExpression(), flags
}

// TestLocalReplyMappers: each kind of Envoy-made error has an Anthropic-
// shaped mapper for /v1/messages, tried before its OpenAI-shaped one.
func TestLocalReplyMappers(t *testing.T) {
	mappers := localReplyConfig().GetMappers()
	if len(mappers) != 2*len(localReplies) {
		t.Fatalf("%d mappers for %d kinds of reply, want two each", len(mappers), len(localReplies))
	}
	codes := map[string]bool{}
	for i, r := range localReplies {
		anth, oai := mappers[2*i], mappers[2*i+1]
		t.Run(r.code, func(t *testing.T) {
			ac, af := celOf(t, anth)
			oc, of := celOf(t, oai)
			if !strings.Contains(ac, onMessagesCEL) || strings.Contains(oc, onMessagesCEL) || strings.Join(af, ",") != strings.Join(of, ",") {
				t.Errorf("conditions %q %v / %q %v, want the same but for the messages path", ac, af, oc, of)
			}
			for _, c := range []string{ac, oc} {
				if !strings.HasPrefix(c, "!response.code_details.startsWith('switchboard')") {
					t.Errorf("condition %q does not leave the ext_proc server's own replies alone", c)
				}
			}
			a := anth.GetBodyFormatOverride().GetJsonFormat().GetFields()
			if a["type"].GetStringValue() != "error" || a["error"].GetStructValue().GetFields()["type"].GetStringValue() != r.anthropicType {
				t.Errorf("Anthropic format = %v, want type error, error.type %s", a, r.anthropicType)
			}
			e := oai.GetBodyFormatOverride().GetJsonFormat().GetFields()["error"].GetStructValue().GetFields()
			if e["code"].GetStringValue() != r.code || e["type"].GetStringValue() != r.openAIType {
				t.Errorf("OpenAI format = %v, want code %s type %s", e, r.code, r.openAIType)
			}
			if _, null := e["param"].GetKind().(*structpb.Value_NullValue); !null {
				t.Errorf("OpenAI format param = %v, want null", e["param"])
			}
		})
		if r.status != 0 && (anth.GetStatusCode().GetValue() != r.status || oai.GetStatusCode().GetValue() != r.status) {
			t.Errorf("%s: status %d / %d, want %d", r.code, anth.GetStatusCode().GetValue(), oai.GetStatusCode().GetValue(), r.status)
		}
		// The same failure may be told by two conditions.
		if codes[r.code] && r.code != "service_unavailable" && r.code != "request_timeout" {
			t.Errorf("code %s used twice", r.code)
		}
		codes[r.code] = true
	}
	// Failures are told apart: a stuck ext_proc is not a slow provider, a
	// missing route not an unreachable provider.
	for _, want := range []string{"processing_timeout", "model_not_routed", "route_not_found", "provider_unreachable", "upstream_timeout", "overloaded"} {
		if !codes[want] {
			t.Errorf("no local reply with code %s", want)
		}
	}
}
