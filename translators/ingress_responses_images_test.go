package translators

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// OpenAI's image_generation tool on /v1/responses through a chat provider:
// the chat form's image modality, images[] back as image_generation_call
// items, whole and streamed.

func TestResponsesImageTool(t *testing.T) {
	r, err := ResponsesIngress{}.Request([]byte(`{"model":"m","input":"a fox","tools":[{"type":"image_generation"},{"type":"web_search"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if m := gjson.GetBytes(r.Body, "modalities").Raw; m != `["image","text"]` {
		t.Errorf("modalities %s in %s", m, r.Body)
	}
	if strings.Join(r.Dropped, ",") != "tools[].web_search" || gjson.GetBytes(r.Body, "tools").Exists() {
		t.Errorf("dropped %v, tools %s", r.Dropped, gjson.GetBytes(r.Body, "tools").Raw)
	}
	r, _ = ResponsesIngress{}.Request([]byte(`{"model":"m","input":"a fox"}`))
	if gjson.GetBytes(r.Body, "modalities").Exists() {
		t.Errorf("modalities without the tool: %s", r.Body)
	}
	// A follow-up resending the turn that made an image: the image item
	// is left out, the conversation goes on.
	r, err = ResponsesIngress{}.Request([]byte(`{"model":"m","tools":[{"type":"image_generation"}],"input":[{"role":"user","content":"a fox"},` +
		`{"type":"image_generation_call","id":"ig_1","status":"completed","result":"iVBORw0KGgo="},` +
		`{"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"fox"}},` +
		`{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Here it is."}]},{"role":"user","content":"now in blue"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if msgs := gjson.GetBytes(r.Body, "messages").Array(); len(msgs) != 3 || msgs[1].Get("role").Str != "assistant" || strings.Contains(string(r.Body), "iVBORw0KGgo") {
		t.Errorf("messages %s", gjson.GetBytes(r.Body, "messages").Raw)
	}
}

func TestResponsesImageAnswer(t *testing.T) {
	png := tinyPNG(t)
	chat := `{"id":"chatcmpl-img","object":"chat.completion","created":1,"model":"gemini-2.5-flash-image","choices":[{"index":0,"message":{"role":"assistant","content":"Here it is.","images":[` +
		`{"type":"image_url","image_url":{"url":"data:image/png;base64,` + png + `"}},{"type":"image_url","image_url":{"url":"https://example.com/x.png"}}]},"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":5,"completion_tokens":1290,"total_tokens":1295}}`
	out, err := ResponsesIngress{}.Response([]byte(chat), ResponsesEcho{})
	if err != nil {
		t.Fatal(err)
	}
	checkSDKResponse(t, out)
	items := gjson.GetBytes(out, "output").Array()
	// The URL is no base64 an image_generation_call can carry: left out.
	if len(items) != 2 || items[0].Get("type").Str != "image_generation_call" || items[0].Get("result").Str != png ||
		!strings.HasPrefix(items[0].Get("id").Str, "ig_") || items[1].Get("type").Str != "message" {
		t.Fatalf("output %s", gjson.GetBytes(out, "output").Raw)
	}

	stream := "data: {\"id\":\"chatcmpl-img\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"g\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Here \"}}]}\n\n" +
		"data: {\"id\":\"chatcmpl-img\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"g\",\"choices\":[{\"index\":0,\"delta\":{\"images\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64," + png + "\"}}]}}]}\n\n" +
		"data: {\"id\":\"chatcmpl-img\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"g\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"it is.\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1290,\"total_tokens\":1295}}\n\n" +
		"data: [DONE]\n\n"
	sse, _ := runResponsesStream(ResponsesEcho{}, []byte(stream), func(int) int { return 7 })
	checkResponsesSSE(t, sse)
	for _, want := range []string{"response.image_generation_call.in_progress", "response.image_generation_call.generating", "response.image_generation_call.completed"} {
		if !strings.Contains(string(sse), "event: "+want+"\n") {
			t.Errorf("no %s event", want)
		}
	}
	last := sse[strings.LastIndex(string(sse), "data: ")+6:]
	output := gjson.GetBytes(last, "response.output").Array()
	if len(output) != 3 || output[0].Get("type").Str != "message" || output[1].Get("result").Str != png || output[2].Get("content.0.text").Str != "it is." {
		t.Errorf("completed output %s", gjson.GetBytes(last, "response.output").Raw)
	}
}
