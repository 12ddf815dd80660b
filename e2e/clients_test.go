package e2e

// The real clients people point at a gateway (issue 11), run as a user
// would but offline: `make test` installs them pinned into .tools (the
// Makefile's clients target) and exports CLAUDE_CODE_BIN, CODEX_BIN and
// OPENAI_PYTHONPATH. Each run gets a fresh home, config directory and
// working directory, and an environment built from scratch (PATH and the
// variables below only), so nothing from the machine's own config or
// credentials reaches the client or the recording.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The .tools paths the Makefile installs to, used when the environment
// variables are unset. Keep in step with CLAUDE_CODE_VERSION and
// CODEX_VERSION in the Makefile.
const (
	claudeCodeToolPath = "claude-code-2.1.332/node_modules/.bin/claude"
	codexToolPath      = "codex-0.171.0/node_modules/.bin/codex"
)

// clientEnv is the base environment of a client run: PATH (node for the
// Codex launcher, the shell for tools), a fresh HOME and a plain locale.
func clientEnv(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"USER=" + firstNonEmpty(os.Getenv("USER"), "root"),
		"LANG=C.UTF-8",
		"TERM=dumb",
		"NO_COLOR=1",
		"TMPDIR=" + os.TempDir(),
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// runClient runs bin in dir with env and a deadline, returning stdout;
// a failure or a timeout fails the test with both streams.
func runClient(t testing.TB, name, bin, dir string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin = nil // /dev/null: neither client waits on a terminal or a pipe
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s ran %.1fs", name, time.Since(start).Seconds())
	if err != nil {
		t.Fatalf("%s %q: %v (after %.1fs)\n--- stdout ---\n%s\n--- stderr ---\n%s", name, args, err, time.Since(start).Seconds(), tail(stdout.String(), 4000), tail(stderr.String(), 4000))
	}
	return stdout.String()
}

// runClaudeCode runs Claude Code 2.1.332 (npm @anthropic-ai/claude-code,
// a native binary) once in print mode: `claude -p PROMPT --model MODEL
// --output-format text`, against baseURL (ANTHROPIC_BASE_URL; it appends
// /v1/messages) with key as ANTHROPIC_API_KEY (sent as x-api-key). It
// runs in a fresh working directory; model "" is Claude Code's default
// model; extraEnv ("K=V") is added last, e.g. key "" and
// ANTHROPIC_AUTH_TOKEN=... to send Authorization: Bearer instead.
func runClaudeCode(t testing.TB, baseURL, key, model string, prompt string, extraEnv ...string) (stdout string) {
	t.Helper()
	return runClaudeCodeIn(t, t.TempDir(), nil, baseURL, key, model, prompt, extraEnv...)
}

// runClaudeCodeIn is runClaudeCode in working directory dir with extra
// command-line args (e.g. --allowedTools).
func runClaudeCodeIn(t testing.TB, dir string, args []string, baseURL, key, model, prompt string, extraEnv ...string) string {
	t.Helper()
	bin := toolPath(t, "CLAUDE_CODE_BIN", claudeCodeToolPath, "clients")
	home := t.TempDir()
	env := append(clientEnv(home),
		"CLAUDE_CONFIG_DIR="+filepath.Join(home, ".claude"),
		"ANTHROPIC_BASE_URL="+baseURL,
		// Offline: no update checks, telemetry, error reports or other
		// calls home; only the model requests reach baseURL.
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"DISABLE_AUTOUPDATER=1",
		"DISABLE_TELEMETRY=1",
		"DISABLE_ERROR_REPORTING=1",
		"DISABLE_BUG_COMMAND=1",
		"CLAUDE_CODE_DISABLE_TERMINAL_TITLE=1",
	)
	if key != "" { // "" leaves the credential to extraEnv
		env = append(env, "ANTHROPIC_API_KEY="+key)
	}
	env = append(env, extraEnv...)
	argv := []string{"-p", prompt, "--output-format", "text"}
	if model != "" { // "" runs Claude Code's default model
		argv = append(argv, "--model", model)
	}
	argv = append(argv, args...)
	return runClient(t, "claude", bin, dir, env, argv...)
}

// runCodex runs the OpenAI Codex CLI 0.171.0 (npm @openai/codex: a node
// launcher and the Rust binary in @openai/codex-linux-x64) once:
// `codex exec --skip-git-repo-check --ephemeral --color never PROMPT`
// (exec's default sandbox: read-only, seccomp; approvals never asked)
// with CODEX_HOME a fresh folder whose config.toml selects a provider
// "switchboard": base_url baseURL+"/v1" (Codex appends /responses),
// wire_api "responses" (the only one Codex accepts), the key from
// SWITCHBOARD_API_KEY (sent as Authorization: Bearer), retries off so a
// failure shows at once, no update check, analytics off.
func runCodex(t testing.TB, baseURL, key, model, prompt string) string {
	t.Helper()
	return runCodexIn(t, t.TempDir(), nil, baseURL, key, model, prompt)
}

// runCodexIn is runCodex in working directory dir with extra exec args.
func runCodexIn(t testing.TB, dir string, args []string, baseURL, key, model, prompt string) string {
	t.Helper()
	bin := toolPath(t, "CODEX_BIN", codexToolPath, "clients")
	home := t.TempDir()
	codexHome := filepath.Join(home, ".codex")
	if err := os.MkdirAll(codexHome, 0o755); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`model = %q
model_provider = "switchboard"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.switchboard]
name = "Switchboard"
base_url = %q
env_key = "SWITCHBOARD_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
`, model, strings.TrimSuffix(baseURL, "/")+"/v1")
	if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(clientEnv(home),
		"CODEX_HOME="+codexHome,
		"SWITCHBOARD_API_KEY="+key,
	)
	argv := append([]string{"exec", "--skip-git-repo-check", "--ephemeral", "--color", "never"}, args...)
	argv = append(argv, prompt)
	return runClient(t, "codex", bin, dir, env, argv...)
}

var updateClients = flag.Bool("update-clients", false, "rewrite testdata/clients/ from what the real clients send")

// writeClientFixture saves reqs as testdata/clients/CLIENT/NAME.json
// under -update-clients.
func writeClientFixture(t testing.TB, client, name string, reqs []recordedRequest) {
	t.Helper()
	if !*updateClients {
		return
	}
	p := filepath.Join("..", "testdata", "clients", client, name+".json")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, fixture(reqs), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkFixture compares what a client sent now with its committed
// transcript: the same endpoints in the same order, the same header
// names and anthropic-beta values, and the same top-level body fields. A
// client upgrade that changes them fails here until re-recorded.
func checkFixture(t testing.TB, client, name string, got []recordedRequest) {
	t.Helper()
	writeClientFixture(t, client, name, got)
	p := filepath.Join("..", "testdata", "clients", client, name+".json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v: record it with go test ./e2e -run %s -update-clients", err, t.Name())
	}
	var want []recordedRequest
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	shape := func(reqs []recordedRequest) string {
		var b strings.Builder
		for _, r := range reqs {
			var names, fields []string
			for k := range r.Headers {
				names = append(names, k)
			}
			var body map[string]json.RawMessage
			_ = json.Unmarshal(r.Body, &body)
			for k := range body {
				fields = append(fields, k)
			}
			sort.Strings(names)
			sort.Strings(fields)
			fmt.Fprintf(&b, "%s\n  headers %v\n  anthropic-beta %v\n  body %v\n", endpoints([]recordedRequest{r})[0], names,
				headerValues([]recordedRequest{r}, "anthropic-beta"), fields)
		}
		return b.String()
	}
	if g, w := shape(got), shape(want); g != w {
		t.Errorf("%s sends other requests than %s records (re-record with go test ./e2e -run %s -update-clients):\n--- now ---\n%s--- recorded ---\n%s", client, p, t.Name(), g, w)
	}
}

// body decodes a recorded request's JSON body.
func body(t testing.TB, r recordedRequest) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%s %s: body: %v", r.Method, r.Path, err)
	}
	return m
}

func header(r recordedRequest, name string) string { return strings.Join(r.Headers[name], ", ") }

func wantEndpoints(t testing.TB, reqs []recordedRequest, want ...string) {
	t.Helper()
	if got := endpoints(reqs); strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("endpoints %q, want %q", got, want)
	}
}

func wantContains(t testing.TB, what string, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%s %q lacks %q", what, got, w)
		}
	}
}

// TestRecorderClaudeCodeDefaultModel: Claude Code's default model, as a
// new user runs it. One streamed POST /v1/messages?beta=true with the key
// in x-api-key, Claude Code's betas, adaptive thinking, effort,
// context_management and a mid-conversation system message (issue 11's
// 400 with other model names).
func TestRecorderClaudeCodeDefaultModel(t *testing.T) {
	rec := startRecorder(t, "hi from the recorder", nil)
	out := runClaudeCode(t, rec.url(), "sk-ant-test-key", "", "say hi")
	if strings.TrimSpace(out) != "hi from the recorder" {
		t.Errorf("stdout %q", out)
	}
	reqs := rec.requests()
	wantEndpoints(t, reqs, "POST /v1/messages")
	r := reqs[0]
	if r.Path != "/v1/messages?beta=true" || r.credentials["x-api-key"] != "sk-ant-test-key" || r.credentials["authorization"] != "" {
		t.Errorf("path %q, credentials %v", r.Path, r.credentials)
	}
	if v := header(r, "anthropic-version"); v != "2023-06-01" {
		t.Errorf("anthropic-version %q", v)
	}
	if ua := header(r, "user-agent"); !strings.HasPrefix(ua, "claude-cli/2.1.332 ") {
		t.Errorf("user-agent %q", ua)
	}
	wantContains(t, "anthropic-beta", headerValues(reqs, "anthropic-beta"),
		"claude-code-20250219", "interleaved-thinking-2025-05-14", "context-management-2025-06-27", "effort-2025-11-24")
	b := body(t, r)
	if b["model"] != "claude-opus-5-5" || b["stream"] != true {
		t.Errorf("model %v, stream %v", b["model"], b["stream"])
	}
	if th, _ := b["thinking"].(map[string]any); th["type"] != "adaptive" {
		t.Errorf("thinking %v", b["thinking"])
	}
	if oc, _ := b["output_config"].(map[string]any); oc["effort"] == nil {
		t.Errorf("output_config %v", b["output_config"])
	}
	if b["context_management"] == nil {
		t.Error("no context_management")
	}
	msgs, _ := b["messages"].([]any)
	var roles []string
	for _, m := range msgs {
		roles = append(roles, fmt.Sprint(m.(map[string]any)["role"]))
	}
	if !slices.Contains(roles[1:], "system") {
		t.Errorf("roles %v: want a system message after the first", roles)
	}
	if !strings.Contains(string(r.Body), `"text":"say hi"`) {
		t.Error("the prompt is not in the body")
	}
	checkFixture(t, "claude-code", "say-hi-default-model", reqs)
}

// TestRecorderClaudeCodeAuthToken: with ANTHROPIC_AUTH_TOKEN (how a
// gateway key is usually given) Claude Code sends Authorization: Bearer
// and no x-api-key; a named older model gets a fixed thinking budget.
func TestRecorderClaudeCodeAuthToken(t *testing.T) {
	rec := startRecorder(t, "hi from the recorder", nil)
	out := runClaudeCode(t, rec.url(), "", "claude-sonnet-4-5", "say hi", "ANTHROPIC_AUTH_TOKEN=sk-sb-test-token")
	if strings.TrimSpace(out) != "hi from the recorder" {
		t.Errorf("stdout %q", out)
	}
	reqs := rec.requests()
	wantEndpoints(t, reqs, "POST /v1/messages")
	r := reqs[0]
	if r.credentials["authorization"] != "Bearer sk-sb-test-token" || r.credentials["x-api-key"] != "" {
		t.Errorf("credentials %v", r.credentials)
	}
	b := body(t, r)
	if th, _ := b["thinking"].(map[string]any); b["model"] != "claude-sonnet-4-5" || th["type"] != "enabled" || th["budget_tokens"] == nil {
		t.Errorf("model %v, thinking %v", b["model"], b["thinking"])
	}
	checkFixture(t, "claude-code", "say-hi-auth-token", reqs)
}

// TestRecorderClaudeCodeToolRoundTrip: the recorder answers tool_use for
// Read; Claude Code reads the file and sends a second request carrying
// the tool_use and its tool_result; the final text quotes the file.
func TestRecorderClaudeCodeToolRoundTrip(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "hello.txt")
	if err := os.WriteFile(file, []byte("switchboard-tool-ok-1234\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := startRecorder(t, "hi from the recorder", &toolCall{Name: "Read", Input: map[string]any{"file_path": file}})
	out := runClaudeCodeIn(t, dir, nil, rec.url(), "sk-ant-test-key", "claude-sonnet-4-5", "read hello.txt")
	if !strings.Contains(out, "tool said:") || !strings.Contains(out, "switchboard-tool-ok-1234") {
		t.Errorf("stdout %q", out)
	}
	reqs := rec.requests()
	wantEndpoints(t, reqs, "POST /v1/messages", "POST /v1/messages")
	msgs, _ := body(t, reqs[1])["messages"].([]any)
	if len(msgs) < 2 {
		t.Fatalf("second request has %d messages", len(msgs))
	}
	last, _ := json.Marshal(msgs[len(msgs)-2:])
	for _, want := range []string{`"type":"tool_use"`, `"id":"toolu_recorder_1"`, `"tool_use_id":"toolu_recorder_1"`, `"type":"tool_result"`, "switchboard-tool-ok-1234"} {
		if !strings.Contains(string(last), want) {
			t.Errorf("the last two messages lack %s: %s", want, last)
		}
	}
	checkFixture(t, "claude-code", "tool-read", reqs)
}

// TestRecorderCodexSayHi: one streamed POST /v1/responses with the key as
// Bearer, store false, encrypted reasoning requested, Codex's tools.
func TestRecorderCodexSayHi(t *testing.T) {
	rec := startRecorder(t, "hi from the recorder", nil)
	out := runCodex(t, rec.url(), "sk-test-key", "gpt-5.5", "say hi")
	if strings.TrimSpace(out) != "hi from the recorder" {
		t.Errorf("stdout %q", out)
	}
	reqs := rec.requests()
	wantEndpoints(t, reqs, "POST /v1/responses")
	r := reqs[0]
	if r.credentials["authorization"] != "Bearer sk-test-key" {
		t.Errorf("credentials %v", r.credentials)
	}
	if v := header(r, "originator"); v != "codex_exec" {
		t.Errorf("originator %q", v)
	}
	if ua := header(r, "user-agent"); !strings.HasPrefix(ua, "codex_exec/0.171.0 ") {
		t.Errorf("user-agent %q", ua)
	}
	b := body(t, r)
	if b["model"] != "gpt-5.5" || b["stream"] != true || b["store"] != false {
		t.Errorf("model %v, stream %v, store %v", b["model"], b["stream"], b["store"])
	}
	if inc, _ := json.Marshal(b["include"]); string(inc) != `["reasoning.encrypted_content"]` {
		t.Errorf("include %s", inc)
	}
	var tools []string
	for _, tl := range b["tools"].([]any) {
		tools = append(tools, fmt.Sprint(tl.(map[string]any)["name"]))
	}
	wantContains(t, "tools", tools, "exec_command", "apply_patch")
	if !strings.Contains(string(r.Body), `"text":"say hi"`) {
		t.Error("the prompt is not in the body")
	}
	checkFixture(t, "codex", "say-hi", reqs)
}

// TestRecorderCodexToolRoundTrip: the recorder answers a function_call to
// exec_command; Codex runs it in its read-only sandbox and sends the
// function_call and its function_call_output back in the next input.
func TestRecorderCodexToolRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("switchboard-tool-ok-1234\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := startRecorder(t, "hi from the recorder", &toolCall{Name: "exec_command", Input: map[string]any{"cmd": "cat hello.txt"}})
	out := runCodexIn(t, dir, nil, rec.url(), "sk-test-key", "gpt-5.5", "cat hello.txt")
	if !strings.Contains(out, "tool said:") || !strings.Contains(out, "switchboard-tool-ok-1234") {
		t.Errorf("stdout %q", out)
	}
	reqs := rec.requests()
	wantEndpoints(t, reqs, "POST /v1/responses", "POST /v1/responses")
	input, _ := json.Marshal(body(t, reqs[1])["input"])
	for _, want := range []string{`"type":"function_call"`, `"call_id":"call_recorder_1"`, `"type":"function_call_output"`, "switchboard-tool-ok-1234"} {
		if !strings.Contains(string(input), want) {
			t.Errorf("the second input lacks %s", want)
		}
	}
	checkFixture(t, "codex", "tool-exec-command", reqs)
}

// TestRecorderOpenAIPythonResponsesStream: the official Python openai SDK
// (pip, pinned, in .tools) streams client.responses against the recorder
// and reads the text back from the events.
func TestRecorderOpenAIPythonResponsesStream(t *testing.T) {
	path := toolPath(t, "OPENAI_PYTHONPATH", "pypi-openai-3.57.0", "clients")
	rec := startRecorder(t, "hi from the recorder", nil)
	script := `import openai, sys
c = openai.OpenAI(base_url=sys.argv[1] + "/v1", api_key="sk-test-key", max_retries=0)
with c.responses.stream(model="gpt-5.5", input="say hi", store=False) as s:
    final = s.get_final_response()
print(openai.__version__)
print(final.output_text)`
	python := firstNonEmpty(os.Getenv("PYTHON"), "python3")
	env := append(clientEnv(t.TempDir()), "PYTHONPATH="+path)
	out := runClient(t, "python openai", python, t.TempDir(), env, "-c", script, rec.url())
	if out != "3.57.0\nhi from the recorder\n" {
		t.Errorf("stdout %q", out)
	}
	reqs := rec.requests()
	wantEndpoints(t, reqs, "POST /v1/responses")
	b := body(t, reqs[0])
	if b["stream"] != true || b["input"] != "say hi" || reqs[0].credentials["authorization"] != "Bearer sk-test-key" {
		t.Errorf("body %s, credentials %v", reqs[0].Body, reqs[0].credentials)
	}
	checkFixture(t, "openai-python", "responses-stream", reqs)
}
