package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/fakeprovider"
)

// openAIPythonScript runs responses.create, then responses.stream, and
// prints one JSON line: the SDK version, the created response's status
// and text, the stream's event types, its text deltas and final text.
const openAIPythonScript = `import json, openai, sys
c = openai.OpenAI(base_url=sys.argv[1] + "/v1", api_key="sk-test-key", max_retries=0)
r = c.responses.create(model="gpt-5.5", instructions="Be brief.", input="say hi")
types, deltas = [], ""
with c.responses.stream(model="gpt-5.5", input=[{"role": "user", "content": "say hi again"}]) as s:
    for ev in s:
        types.append(ev.type)
        if ev.type == "response.output_text.delta":
            deltas += ev.delta
    final = s.get_final_response()
print(json.dumps({"version": openai.__version__, "status": r.status, "text": r.output_text,
    "types": types, "deltas": deltas, "final": final.output_text, "final_status": final.status}))`

// TestOpenAIPythonResponses: the official Python openai SDK's
// responses.create and responses.stream through the gateway, served by
// a chat provider (an OpenAI-compatible host). The SDK parses both
// answers; the stream's events come in OpenAI's order.
func TestOpenAIPythonResponses(t *testing.T) {
	path := toolPath(t, "OPENAI_PYTHONPATH", "pypi-openai-3.57.0", "clients")
	c := startClientsGateway(t, "openai", "gpt-5.5")
	whole, err := fakeprovider.ParseTranscript("inline", []byte("HTTP/1.1 200 OK\ncontent-type: application/json\n\n"+
		`{"id":"chatcmpl-fake1","object":"chat.completion","created":1767225600,"model":"upstream-gpt-5.5",`+
		`"choices":[{"index":0,"message":{"role":"assistant","content":"hello from chat"},"finish_reason":"stop"}],`+
		`"usage":{"prompt_tokens":12,"completion_tokens":4,"total_tokens":16}}`))
	if err != nil {
		t.Fatal(err)
	}
	c.fake.Enqueue("POST", c.path, fakeprovider.Reply{Transcript: whole})
	c.enqueue(t, chatTextSSE("upstream-gpt-5.5", "hello again from chat"))
	python := firstNonEmpty(os.Getenv("PYTHON"), "python3")
	env := append(clientEnv(t.TempDir()), "PYTHONPATH="+path)
	out := runClient(t, "python openai", python, t.TempDir(), env, "-c", openAIPythonScript, c.gw.url(""))
	var got struct {
		Version, Status, Text, Deltas, Final string
		FinalStatus                          string `json:"final_status"`
		Types                                []string
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout %q: %v", out, err)
	}
	if got.Version != "3.57.0" || got.Status != "completed" || got.Text != "hello from chat" {
		t.Errorf("create: %+v", got)
	}
	if got.Deltas != "hello again from chat" || got.Final != got.Deltas || got.FinalStatus != "completed" {
		t.Errorf("stream: %+v", got)
	}
	want := "response.created response.in_progress response.output_item.added response.content_part.added " +
		"response.output_text.delta response.output_text.done response.content_part.done response.output_item.done response.completed"
	if g := strings.Join(got.Types, " "); g != want {
		t.Errorf("events\n%s\nwant\n%s", g, want)
	}
	reqs := c.fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("provider got %d requests", len(reqs))
	}
	first, second := fakeBody(t, reqs[0]), fakeBody(t, reqs[1])
	if jsonOf(first["messages"]) != `[{"content":"Be brief.","role":"system"},{"content":"say hi","role":"user"}]` || first["stream"] == true {
		t.Errorf("create sent %s", reqs[0].Body)
	}
	if !strings.Contains(jsonOf(second["messages"]), "say hi again") || second["stream"] != true {
		t.Errorf("stream sent %s", reqs[1].Body)
	}
}
