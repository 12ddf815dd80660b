package target

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"gopkg.in/yaml.v3"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/xds"

	// The typed_config types the peers' Envoy configs name.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/upstream_codec/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// parseBootstrap reads an Envoy bootstrap YAML as Envoy's own protos,
// every typed_config included, and runs their validation rules.
func parseBootstrap(t *testing.T, text []byte) *bootstrapv3.Bootstrap {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(text, &v); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, text)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var b bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(j, &b); err != nil {
		t.Fatalf("not an Envoy bootstrap: %v\n%s", err, text)
	}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("invalid bootstrap: %v", err)
	}
	return &b
}

// TestAIGWEnvoyConfig: the AI Gateway's Envoy config is a valid bootstrap
// on the given ports; each model routes to a cluster whose upstream
// filter names, by host metadata, a backend of the extproc config.
func TestAIGWEnvoyConfig(t *testing.T) {
	text, err := aigwEnvoyYAML(9100, 9101, 9102, 9103)
	if err != nil {
		t.Fatal(err)
	}
	b := parseBootstrap(t, text)
	if got := b.GetAdmin().GetAddress().GetSocketAddress(); got.GetAddress() != "127.0.0.1" || got.GetPortValue() != 9101 {
		t.Errorf("admin on %v", got)
	}
	var filter struct {
		Version  string `yaml:"version"`
		Backends []struct {
			Name   string `yaml:"name"`
			Schema struct {
				Name    string `yaml:"name"`
				Version string `yaml:"version"`
				Prefix  string `yaml:"prefix"`
			} `yaml:"schema"`
			ModelNameOverride string `yaml:"modelNameOverride"`
			Auth              struct {
				GCP struct {
					AccessToken string `yaml:"accessToken"`
					Region      string `yaml:"region"`
					ProjectName string `yaml:"projectName"`
				} `yaml:"gcp"`
			} `yaml:"auth"`
		} `yaml:"backends"`
		Models []struct {
			Name string `yaml:"name"`
		} `yaml:"models"`
	}
	dec := yaml.NewDecoder(strings.NewReader(aigwFilterConfig))
	dec.KnownFields(true)
	if err := dec.Decode(&filter); err != nil {
		t.Fatalf("extproc config: %v", err)
	}
	schemas := map[string]string{}
	for _, be := range filter.Backends {
		schemas[be.Name] = be.Schema.Name
	}
	if schemas["fake-openai"] != "OpenAI" || schemas["fake-anthropic"] != "GCPAnthropic" {
		t.Errorf("backend schemas %v", schemas)
	}

	s := string(text)
	for _, be := range []aigwBackend{{ModelOpenAI, "fake-openai"}, {ModelAnthropic, "fake-anthropic"}} {
		for _, want := range []string{
			"exact: " + be.Model + "}}]\n                          route: {cluster: " + be.Name + ",",
			"per_route_rule_backend_name: " + be.Name + "}}}",
		} {
			if !strings.Contains(s, want) {
				t.Errorf("%s: no %q in\n%s", be.Model, want, s)
			}
		}
	}
	var clusters []string
	for _, c := range b.GetStaticResources().GetClusters() {
		clusters = append(clusters, c.GetName())
		port := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue()
		if want := map[bool]uint32{true: 9102, false: 9103}[c.GetName() == "extproc"]; port != want {
			t.Errorf("cluster %s on port %d, want %d", c.GetName(), port, want)
		}
	}
	if !slices.Equal(clusters, []string{"extproc", "fake-openai", "fake-anthropic"}) {
		t.Errorf("clusters %v", clusters)
	}
	if !bytes.Contains(text, []byte("port_value: 9100}")) {
		t.Errorf("listener not on 9100:\n%s", text)
	}
}

// TestLiteLLMConfig: the LiteLLM config serves both models on the fake,
// each through its own provider, with the master key.
func TestLiteLLMConfig(t *testing.T) {
	var cfg struct {
		ModelList []struct {
			ModelName string            `yaml:"model_name"`
			Params    map[string]string `yaml:"litellm_params"`
		} `yaml:"model_list"`
		LiteLLMSettings map[string]any    `yaml:"litellm_settings"`
		General         map[string]string `yaml:"general_settings"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(litellmYAML(9200)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		ModelOpenAI:    {"openai/bench-1", "http://127.0.0.1:9200/v1"},
		ModelAnthropic: {"anthropic/claude-bench-1", "http://127.0.0.1:9200"},
	}
	if len(cfg.ModelList) != len(want) {
		t.Fatalf("%d models, want %d", len(cfg.ModelList), len(want))
	}
	for _, m := range cfg.ModelList {
		if got := [2]string{m.Params["model"], m.Params["api_base"]}; got != want[m.ModelName] || m.Params["api_key"] == "" {
			t.Errorf("%s: %v", m.ModelName, m.Params)
		}
	}
	if cfg.General["master_key"] != LiteLLMKey || cfg.LiteLLMSettings["telemetry"] != false {
		t.Errorf("settings %v %v", cfg.General, cfg.LiteLLMSettings)
	}
	if env := strings.Join(litellmEnv("/x"), " "); !strings.Contains(env, "PYTHONPATH=/x") || !strings.Contains(env, "LITELLM_TELEMETRY=False") {
		t.Errorf("env %s", env)
	}
}

// TestBaselineConfig: the baseline's bootstrap is valid too, so the two
// Envoy configs beside each other differ only in what the peer adds.
func TestBaselineConfig(t *testing.T) {
	var b bytes.Buffer
	if err := baselineTmpl.Execute(&b, map[string]int{"Port": 9300, "Admin": 9301, "Upstream": 9302}); err != nil {
		t.Fatal(err)
	}
	boot := parseBootstrap(t, b.Bytes())
	// The floor shares the template: without ExtProc nothing of it stays.
	var hcm hcmv3.HttpConnectionManager
	if err := boot.GetStaticResources().GetListeners()[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	if f := hcm.GetHttpFilters(); len(f) != 1 || f[0].GetName() != "envoy.filters.http.router" {
		t.Errorf("baseline filters %v, want the router alone", f)
	}
	if c := boot.GetStaticResources().GetClusters(); len(c) != 1 || c[0].GetName() != "fake" {
		t.Errorf("baseline clusters %v, want the fake alone", c)
	}
}

// TestFloorConfig: the floor's bootstrap is valid, and its ext_proc
// filter processes as switchboard's router hop does (the filter the
// control plane builds for the bench's gateway config), so the floor
// stays the floor of the design measured beside it.
func TestFloorConfig(t *testing.T) {
	var text bytes.Buffer
	if err := floorEnvoyTmpl.Execute(&text, map[string]int{"Port": 9300, "Admin": 9301, "ExtProc": 9302, "Upstream": 9303}); err != nil {
		t.Fatal(err)
	}
	floor := httpFilter[*extprocfilterv3.ExternalProcessor](t, parseBootstrap(t, text.Bytes()).GetStaticResources().GetListeners()[0], "envoy.filters.http.ext_proc")

	cfg, err := config.Parse("gateway.yaml", gatewayYAML(9000, 9001, 9002, 9003, 9004, nil), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	snap, err := xds.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l := snap.GetResources(resource.ListenerType)[xds.ListenerName].(*listenerv3.Listener)
	router := httpFilter[*extprocfilterv3.ExternalProcessor](t, l, "envoy.filters.http.ext_proc")
	if diff := cmp.Diff(router.GetProcessingMode(), floor.GetProcessingMode(), protocmp.Transform()); diff != "" {
		t.Errorf("processing mode differs from the router hop's (-router +floor):\n%s", diff)
	}
	if router.GetSendBodyWithoutWaitingForHeaderResponse() != floor.GetSendBodyWithoutWaitingForHeaderResponse() {
		t.Error("send_body_without_waiting_for_header_response differs from the router hop's")
	}
}

// httpFilter is the typed config of the first HTTP filter called name in
// l's connection manager.
func httpFilter[T proto.Message](t *testing.T, l *listenerv3.Listener, name string) T {
	t.Helper()
	var hcm hcmv3.HttpConnectionManager
	if err := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	for _, f := range hcm.GetHttpFilters() {
		if f.GetName() == name {
			m, err := f.GetTypedConfig().UnmarshalNew()
			if err != nil {
				t.Fatal(err)
			}
			return m.(T)
		}
	}
	t.Fatalf("listener %s has no filter %s", l.GetName(), name)
	var zero T
	return zero
}
