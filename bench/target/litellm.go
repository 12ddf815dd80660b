package target

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/switchboard-gw/switchboard/bench/proc"
)

// LiteLLM is the process name of the LiteLLM proxy.
const LiteLLM = "litellm"

// LiteLLMKey is the proxy's master key: it refuses to start without one,
// and with no database it is the only key, checked on every request.
const LiteLLMKey = "sk-bench-" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// litellmYAML is the proxy's config: the gateway's two models, each on
// the fake in its own schema (LiteLLM adds /chat/completions to an
// openai/ model's api_base and /v1/messages to an anthropic/ one's).
func litellmYAML(fakePort int) []byte {
	return fmt.Appendf(nil, `# LiteLLM proxy config for the benchmark.
model_list:
  - model_name: %[1]s
    litellm_params: {model: openai/bench-1, api_base: "http://127.0.0.1:%[3]d/v1", api_key: bench}
  - model_name: %[2]s
    litellm_params: {model: anthropic/claude-bench-1, api_base: "http://127.0.0.1:%[3]d", api_key: bench}
litellm_settings: {telemetry: false}
general_settings: {master_key: %[4]s}
`, ModelOpenAI, ModelAnthropic, fakePort, LiteLLMKey)
}

// litellmEnv keeps the proxy off the network: no telemetry, and the
// model price map it ships rather than a download. (No DATABASE_URL: the
// proxy runs without a database, as configured.)
func litellmEnv(dir string) []string {
	return []string{"PYTHONPATH=" + dir, "LITELLM_TELEMETRY=False", "LITELLM_LOCAL_MODEL_COST_MAP=True"}
}

// StartLiteLLM runs the LiteLLM proxy installed in env.LiteLLM (one
// worker process, as `litellm` defaults to) in front of the fake.
func StartLiteLLM(env Env, fakePort int) (*Stack, error) {
	script := filepath.Join(env.LiteLLM, "bin", "litellm")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("litellm: not installed (run `make peers`): %w", err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(env.Dir, "litellm.yaml")
	if err := os.WriteFile(cfg, litellmYAML(fakePort), 0o644); err != nil {
		return nil, fmt.Errorf("litellm: write config: %w", err)
	}
	p, err := proc.StartEnv(LiteLLM, filepath.Join(env.Dir, "litellm.log"), litellmEnv(env.LiteLLM), "python3", script,
		"--config", cfg, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--num_workers", "1")
	if err != nil {
		return nil, fmt.Errorf("litellm: %w", err)
	}
	s := &Stack{Name: LiteLLM, Port: port, Procs: []*proc.Proc{p}}
	if err := s.waitHTTP("/health/liveliness", 90*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}
