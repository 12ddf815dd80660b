package translators

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestReadResponsesTurn(t *testing.T) {
	for _, tc := range []struct {
		name, body     string
		prev, input    string
		store          bool
		errParam, errS string
	}{
		{name: "string input", body: `{"model":"m","input":"hi \"there\""}`, store: true,
			input: `[{"type":"message","role":"user","content":"hi \"there\""}]`},
		{name: "items and previous", body: `{"model":"m","previous_response_id":"resp_1","store":true,"input":[{"role":"user","content":"again"}]}`,
			prev: "resp_1", store: true, input: `[{"role":"user","content":"again"}]`},
		{name: "store false", body: `{"model":"m","store":false,"input":"x"}`, input: `[{"type":"message","role":"user","content":"x"}]`},
		{name: "no input", body: `{"model":"m","previous_response_id":null}`, store: true, input: `[]`},
		{name: "previous not a string", body: `{"model":"m","previous_response_id":3}`, errParam: "previous_response_id", errS: "must be a string"},
		{name: "input a number", body: `{"model":"m","input":3}`, errParam: "input", errS: "string or an array"},
		{name: "not an object", body: `[1]`, errS: "JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadResponsesTurn([]byte(tc.body))
			if tc.errS != "" {
				e, ok := err.(*APIError)
				if !ok || e.Status != 400 || e.Param != tc.errParam || !strings.Contains(e.Message, tc.errS) {
					t.Fatalf("err = %#v, want 400 param %q with %q", err, tc.errParam, tc.errS)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Previous != tc.prev || got.Store != tc.store || string(got.Input) != tc.input {
				t.Errorf("got %+v (input %s)", got, got.Input)
			}
		})
	}
}

// TestExpandResponses: a follow-up becomes the stored input, the stored
// output and its own input, which the chat translation then reads as one
// conversation (the assistant's answer and its reasoning included).
func TestExpandResponses(t *testing.T) {
	first := []byte(`{"model":"m","instructions":"Be brief.","input":"What is 2+2?"}`)
	turn1, err := ReadResponsesTurn(first)
	if err != nil {
		t.Fatal(err)
	}
	// The answer the gateway returned for it, from a chat provider.
	echo, _ := ResponsesIngress{}.Request(first)
	answer, err := ResponsesIngress{}.Response([]byte(`{"id":"abc","object":"chat.completion","created":1,"model":"m",
"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"4","reasoning":"adding","reasoning_details":[{"type":"reasoning.text","text":"adding","signature":"sig"}]}}],
"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`), echo.Echo)
	if err != nil {
		t.Fatal(err)
	}
	history := ResponsesHistory(turn1.Input, answer)

	follow := []byte(`{"model":"m","previous_response_id":"resp_abc","input":[{"role":"user","content":"And 3+3?"}],"stream":true}`)
	turn2, err := ReadResponsesTurn(follow)
	if err != nil {
		t.Fatal(err)
	}
	before := string(follow)
	out, err := ExpandResponses(follow, history, turn2)
	if err != nil {
		t.Fatal(err)
	}
	if string(follow) != before {
		t.Fatal("the client body was modified")
	}
	root := gjson.ParseBytes(out)
	if root.Get("previous_response_id").Exists() || !root.Get("stream").Bool() {
		t.Errorf("expanded body %s", out)
	}
	types := []string{}
	for _, it := range root.Get("input").Array() {
		types = append(types, it.Get("type").Str+"/"+it.Get("role").Str)
	}
	if got, want := strings.Join(types, ","), "message/user,reasoning/,message/assistant,/user"; got != want {
		t.Fatalf("items %s, want %s: %s", got, want, out)
	}

	chat, err := ResponsesIngress{}.Request(out)
	if err != nil {
		t.Fatal(err)
	}
	msgs := gjson.GetBytes(chat.Body, "messages").Array()
	if len(msgs) != 3 || msgs[0].Get("content").Str != "What is 2+2?" || msgs[1].Get("role").Str != "assistant" ||
		msgs[1].Get("content").Str != "4" || msgs[1].Get("reasoning_details.0.signature").Str != "sig" || msgs[2].Get("content").Str != "And 3+3?" {
		t.Errorf("chat messages %s", gjson.GetBytes(chat.Body, "messages").Raw)
	}
}

func TestJoinItems(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want string
	}{
		{"two arrays", []string{`[1,2]`, `[3]`}, `[1,2,3]`},
		{"empty and missing", []string{`[]`, ``, `[{"a":1}]`}, `[{"a":1}]`},
		{"not arrays", []string{`{"a":1}`, `"x"`}, `[]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := make([][]byte, len(tc.in))
			for i, s := range tc.in {
				args[i] = []byte(s)
			}
			if got := string(JoinItems(args...)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestResponsesCapture: the capture keeps the terminal event's response
// object, whatever the chunking, and nothing before it.
func TestResponsesCapture(t *testing.T) {
	stream := "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_x\",\"status\":\"in_progress\",\"output\":[]}}\n\n" +
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n" +
		"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_x\",\"status\":\"completed\",\"output\":[{\"type\":\"message\"}]}}\n\n"
	for _, size := range []int{1, 7, len(stream)} {
		var c ResponsesCapture
		for i := 0; i < len(stream); i += size {
			if _, _, ok := c.Final(); ok {
				t.Fatalf("split %d: final before the terminal event", size)
			}
			c.Write([]byte(stream[i:min(i+size, len(stream))]))
		}
		got, status, ok := c.Final()
		if !ok || status != "completed" || gjson.GetBytes(got, "output.0.type").Str != "message" {
			t.Errorf("split %d: %s %q %v", size, got, status, ok)
		}
	}
}
