package target

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"gopkg.in/yaml.v3"

	// The typed_config types the peers' Envoy configs name.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
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
	parseBootstrap(t, b.Bytes())
}
