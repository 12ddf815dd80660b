package translators

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// A plugin's blocks (ServerBlocksField) come before the text on
// /v1/messages, whole and streamed, and the searches are in usage.
func TestIngressServerBlocks(t *testing.T) {
	blocks := `[{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"q \"x\""}},` +
		`{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[{"type":"web_search_result","url":"https://a.example/","title":"A","encrypted_content":"QQ=="}]}]`
	whole := `{"id":"c1","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Answer.","` + ServerBlocksField + `":` + blocks +
		`},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"server_tool_use":{"web_search_requests":1}}}`
	out, err := AnthropicIngress{}.Response([]byte(whole))
	if err != nil {
		t.Fatal(err)
	}
	c := gjson.GetBytes(out, "content").Array()
	if len(c) != 3 || c[0].Get("type").Str != "server_tool_use" || c[1].Get("type").Str != "web_search_tool_result" || c[2].Get("text").Str != "Answer." {
		t.Fatalf("content %s", gjson.GetBytes(out, "content").Raw)
	}
	if gjson.GetBytes(out, "usage.server_tool_use.web_search_requests").Int() != 1 || gjson.GetBytes(out, "usage.output_tokens").Int() != 2 {
		t.Errorf("usage %s", gjson.GetBytes(out, "usage").Raw)
	}

	sse := "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"" + ServerBlocksField + "\":" + blocks + "},\"finish_reason\":null}]}\n\n" +
		"data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Answer.\"},\"finish_reason\":null}]}\n\n" +
		"data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n" +
		"data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"server_tool_use\":{\"web_search_requests\":1}}}\n\n" +
		"data: [DONE]\n\n"
	st := AnthropicIngress{}.NewStream()
	got := string(st.Finish(st.Translate(nil, []byte(sse))))
	var events []string
	for _, ev := range strings.Split(got, "\n\n") {
		if _, data, ok := strings.Cut(ev, "data: "); ok {
			d := gjson.Parse(data)
			events = append(events, d.Get("type").Str+":"+d.Get("content_block.type").Str+d.Get("delta.type").Str)
		}
	}
	want := "message_start: content_block_start:server_tool_use content_block_delta:input_json_delta content_block_stop: " +
		"content_block_start:web_search_tool_result content_block_stop: content_block_start:text content_block_delta:text_delta " +
		"content_block_stop: message_delta: message_stop:"
	if strings.Join(events, " ") != want {
		t.Fatalf("events\n%s\nwant\n%s\n%s", strings.Join(events, " "), want, got)
	}
	if !strings.Contains(got, `"partial_json":"{\"query\":\"q \\\"x\\\"\"}"`) || !strings.Contains(got, `"server_tool_use":{"web_search_requests":1}}`) {
		t.Errorf("stream:\n%s", got)
	}
}
