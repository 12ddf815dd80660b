package healing

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const personSchema = `{"type":"json_schema","json_schema":{"name":"person","strict":true,"schema":{
	"type":"object","required":["name","age"],"additionalProperties":false,
	"properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}}}}}`

func mustFormat(t *testing.T, responseFormat string) Format {
	t.Helper()
	f, ok, err := FormatFromRequest([]byte(`{"model":"m","response_format":` + responseFormat + `}`))
	if err != nil || !ok {
		t.Fatalf("FormatFromRequest: ok=%v err=%v", ok, err)
	}
	return f
}

// canon re-encodes JSON so tests compare values, not the repairer's spacing.
func canon(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v: %q", err, s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestHeal(t *testing.T) {
	object := mustFormat(t, `{"type":"json_object"}`)
	person := mustFormat(t, personSchema)
	tests := []struct {
		name    string
		f       Format
		in      string
		status  Status
		want    string // canonical JSON when healed or valid
		problem string // substring, when failed or skipped
	}{
		{name: "valid as sent", f: person, in: `{"name":"Ada","age":36}`, status: StatusValid, want: `{"age":36,"name":"Ada"}`},
		{name: "markdown fence", f: person, in: "```json\n{\"name\": \"Ada\", \"age\": 36}\n```", status: StatusHealed, want: `{"age":36,"name":"Ada"}`},
		{name: "fence without info string", f: object, in: "```\n{\"ok\": true}\n```\n", status: StatusHealed, want: `{"ok":true}`},
		{name: "prose around", f: object, in: "Sure! Here is the JSON you asked for:\n\n{\"city\": \"Paris\", \"country\": \"France\"}\n\nLet me know if you need anything else.", status: StatusHealed, want: `{"city":"Paris","country":"France"}`},
		{name: "prose then fence then prose", f: person, in: "Here you go:\n```json\n{\"name\": \"Ada\", \"age\": 36,}\n```\nThe age is as of 1851.", status: StatusHealed, want: `{"age":36,"name":"Ada"}`},
		{name: "trailing commas", f: object, in: `{"a": 1, "b": [1, 2,],}`, status: StatusHealed, want: `{"a":1,"b":[1,2]}`},
		{name: "truncated mid string", f: object, in: `{"items": [{"id": 1, "name": "widget"}, {"id": 2, "name": "gad`, status: StatusHealed, want: `{"items":[{"id":1,"name":"widget"},{"id":2,"name":"gad"}]}`},
		{name: "truncated after colon", f: object, in: `{"summary": "done", "tags": ["a", "b"], "score":`, status: StatusHealed, want: `{"score":null,"summary":"done","tags":["a","b"]}`},
		{name: "single quotes", f: person, in: `{'name': 'Ada', 'age': 36}`, status: StatusHealed, want: `{"age":36,"name":"Ada"}`},
		{name: "unquoted keys", f: person, in: `{name: "Ada", age: 36}`, status: StatusHealed, want: `{"age":36,"name":"Ada"}`},
		{name: "python constants", f: object, in: `{"ok": True, "value": None, "done": False}`, status: StatusHealed, want: `{"done":false,"ok":true,"value":null}`},
		{name: "smart quotes", f: object, in: "{\u201cname\u201d: \u201cAda\u201d}", status: StatusHealed, want: `{"name":"Ada"}`},
		{name: "comments", f: object, in: "{\n  \"a\": 1, // the count\n  \"b\": 2 /* more */\n}", status: StatusHealed, want: `{"a":1,"b":2}`},
		{name: "json_object wants an object", f: object, in: `[1, 2, 3]`, status: StatusFailed, problem: "is not a JSON object"},
		{name: "repaired but off schema", f: person, in: "```json\n{\"name\": \"Ada\", \"age\": -3}\n```", status: StatusFailed, problem: "does not match the schema at /age"},
		{name: "valid but off schema", f: person, in: `{"name":"Ada"}`, status: StatusFailed, problem: "does not match the schema at the root"},
		{name: "a refusal in prose", f: object, in: "I'm sorry, I can't help with that.", status: StatusFailed, problem: "answer could not be repaired into JSON"},
		{name: "plain prose", f: person, in: "Ada is 36 years old", status: StatusFailed, problem: "answer holds no JSON value"},
		{name: "empty", f: object, in: "  \n", status: StatusFailed, problem: "answer is empty"},
		{name: "hostile nesting", f: object, in: strings.Repeat(`{"a":[`, 50_000), status: StatusFailed, problem: "over the limit of 128"},
		{name: "over the size limit", f: object, in: `{"a":"` + strings.Repeat("x", 1<<20) + `"`, status: StatusSkipped, problem: "over the 1048576-byte healing limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Heal(tc.in, tc.f, Limits{})
			if got.Status != tc.status {
				t.Fatalf("status = %s (%s), want %s; text %q", got.Status, got.Problem, tc.status, got.Text)
			}
			switch tc.status {
			case StatusHealed, StatusValid:
				if c := canon(t, got.Text); c != tc.want {
					t.Errorf("text = %s, want %s", c, tc.want)
				}
			default:
				if got.Text != tc.in {
					t.Errorf("a failed answer must be left as sent")
				}
				if !strings.Contains(got.Problem, tc.problem) {
					t.Errorf("problem = %q, want it to contain %q", got.Problem, tc.problem)
				}
				if len(tc.in) > 8 && strings.Contains(got.Problem, tc.in[:8]) {
					t.Errorf("problem quotes the answer: %q", got.Problem)
				}
			}
		})
	}
}

func TestFormatFromRequest(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		ok      bool
		kind    Kind
		schema  bool
		wantErr string
	}{
		{name: "no response_format", body: `{"model":"m"}`},
		{name: "text", body: `{"response_format":{"type":"text"}}`},
		{name: "json_object", body: `{"response_format":{"type":"json_object"}}`, ok: true, kind: KindJSONObject},
		{name: "json_schema", body: `{"response_format":` + personSchema + `}`, ok: true, kind: KindJSONSchema, schema: true},
		{name: "json_schema without schema", body: `{"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}`, ok: true, kind: KindJSONSchema},
		{name: "bad schema", body: `{"response_format":{"type":"json_schema","json_schema":{"schema":{"type":12}}}}`, wantErr: "response_format.json_schema.schema"},
		{name: "external ref refused", body: `{"response_format":{"type":"json_schema","json_schema":{"schema":{"$ref":"file:///etc/passwd"}}}}`, wantErr: "is not allowed"},
		{name: "remote ref refused", body: `{"response_format":{"type":"json_schema","json_schema":{"schema":{"$ref":"https://example.com/s.json"}}}}`, wantErr: "is not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, ok, err := FormatFromRequest([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.ok || f.Kind != tc.kind || (f.Schema != nil) != tc.schema {
				t.Errorf("got ok=%v kind=%q schema=%v", ok, f.Kind, f.Schema != nil)
			}
		})
	}
}

func TestHealResponse(t *testing.T) {
	person := mustFormat(t, personSchema)
	body := `{"id":"c1","object":"chat.completion","model":"m","choices":[` +
		`{"index":0,"message":{"role":"assistant","content":"` + "```json\\n{\\\"name\\\": \\\"Ada\\\", \\\"age\\\": 36}\\n```" + `"},"finish_reason":"stop"},` +
		`{"index":1,"message":{"role":"assistant","content":"no idea"},"finish_reason":"stop"},` +
		`{"index":2,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}` +
		`],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}`
	in := []byte(body)
	out, rep := HealResponse(in, person, Limits{})
	if string(in) != body {
		t.Fatal("HealResponse modified its input")
	}
	if !json.Valid(out) {
		t.Fatalf("output is not JSON: %s", out)
	}
	var got struct {
		Choices []struct {
			Message struct{ Content *string }
		}
		Usage struct {
			TotalTokens int `json:"total_tokens"`
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if c := canon(t, *got.Choices[0].Message.Content); c != `{"age":36,"name":"Ada"}` {
		t.Errorf("choice 0 = %s", c)
	}
	if *got.Choices[1].Message.Content != "no idea" {
		t.Errorf("choice 1 changed: %q", *got.Choices[1].Message.Content)
	}
	if got.Usage.TotalTokens != 8 {
		t.Errorf("usage lost: %s", out)
	}
	want := Report{Choices: []ChoiceReport{
		{Index: 0, Status: StatusHealed},
		{Index: 1, Status: StatusFailed, Problem: "answer holds no JSON value"},
		{Index: 2, Status: StatusSkipped, Problem: "no text answer"},
	}}
	if d := cmp.Diff(want, rep); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	if !rep.Healed() || !rep.Failed() {
		t.Errorf("Healed=%v Failed=%v", rep.Healed(), rep.Failed())
	}
	if s := rep.Summary(); s != "0=healed; 1=failed: answer holds no JSON value; 2=skipped: no text answer" {
		t.Errorf("summary = %q", s)
	}
}

func TestHealResponseValidKeepsBytes(t *testing.T) {
	body := []byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":"{\"a\":1}"},"finish_reason":"stop"}]}`)
	out, rep := HealResponse(body, mustFormat(t, `{"type":"json_object"}`), Limits{})
	if string(out) != string(body) {
		t.Errorf("a valid answer changed: %s", out)
	}
	if rep.Summary() != "valid" {
		t.Errorf("summary = %q", rep.Summary())
	}
}
