package extproc

// An in-memory Envoy for the tests: the real Server behind a real gRPC
// connection (bufconn), builders for the ProcessingRequests Envoy sends in
// each phase and readers for the answers.

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/xds"
)

// Provider keys of testYAML; tests check they reach the provider and
// nothing else (logs, client).
const (
	openAIKey    = "sk-openai-test-key"
	anthropicKey = "sk-ant-test-key"
)

// testYAML serves one model per provider and one with two priority levels
// whose lower-priority provider has by far the larger weight.
const testYAML = `providers:
  - name: openai
    schema: openai
    base_url: https://openai.example.test/openai/v1
    api_key: {env: OPENAI_KEY}
  - name: anthropic
    schema: anthropic
    base_url: https://anthropic.example.test
    api_key: {env: ANTHROPIC_KEY}
models:
  - name: gpt-4o
    providers:
      - {provider: openai, model: gpt-4o-2024-08-06}
  - name: claude-sonnet
    providers:
      - {provider: anthropic, model: claude-sonnet-4-5-20250929}
  - name: tiered
    providers:
      - {provider: anthropic, model: claude-haiku-4-5, priority: 1, weight: 1000}
      - {provider: openai, model: gpt-4o-mini, priority: 0, weight: 1}
`

// swappedYAML is testYAML after an edit: gpt-4o moved to Anthropic and the
// openai provider is gone.
const swappedYAML = `providers:
  - name: anthropic
    schema: anthropic
    base_url: https://anthropic.example.test
    api_key: {env: ANTHROPIC_KEY}
models:
  - name: gpt-4o
    providers:
      - {provider: anthropic, model: claude-opus-4-1}
`

func testEnv(name string) (string, bool) {
	v, ok := map[string]string{"OPENAI_KEY": openAIKey, "ANTHROPIC_KEY": anthropicKey}[name]
	return v, ok
}

func mustLoad(tb testing.TB, yaml string) *config.Loaded {
	tb.Helper()
	l, err := config.Parse("cfg.yaml", []byte(yaml), testEnv)
	if err != nil {
		tb.Fatalf("config.Parse: %v", err)
	}
	return l
}

// harness is a running Server reached over bufconn, as Envoy reaches it.
type harness struct {
	srv    *Server
	client extprocv3.ExternalProcessorClient
	store  *config.Store
	// ended receives the value each Process call returned, in order.
	ended chan error
	logs  *observer.ObservedLogs
}

// newHarness serves a Server reading cfg (none if nil) from a Store the
// test may swap. Everything it starts is stopped in t.Cleanup.
func newHarness(t *testing.T, cfg *config.Loaded) *harness {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	h := &harness{store: &config.Store{}, ended: make(chan error, 256), logs: logs}
	if cfg != nil {
		h.store.Set(cfg)
	}
	s, err := NewServer(zap.New(core), h.store)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	h.srv = s
	record := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		err := handler(srv, ss)
		select {
		case h.ended <- err:
		default:
		}
		return err
	}
	g := grpc.NewServer(append(ServerOptions(), grpc.StreamInterceptor(record), grpc.WaitForHandlers(true))...)
	s.Register(g)
	lis := bufconn.Listen(1 << 20)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = g.Serve(lis)
	}()
	conn, err := grpc.NewClient("passthrough:///extproc",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() {
		conn.Close()
		g.Stop()
		<-served
	})
	h.client = extprocv3.NewExternalProcessorClient(conn)
	return h
}

// waitEnded returns what the next finished Process call returned.
func (h *harness) waitEnded(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.ended:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Process did not return")
		return nil
	}
}

// envoyStream is one ext_proc stream, i.e. one HTTP request at one hop.
type envoyStream struct {
	t      *testing.T
	stream extprocv3.ExternalProcessor_ProcessClient
	cancel context.CancelFunc
	// awaiting is set once a stream's response headers were sent: their
	// answer comes with the first body chunk's, and is kept in held.
	awaiting bool
	held     *extprocv3.ProcessingResponse
}

// open starts a stream carrying hop in its gRPC metadata, as the
// ExternalProcessor filter's initial_metadata does ("" sends none),
// with the further metadata pairs kv.
func (h *harness) open(t *testing.T, hop string, kv ...string) *envoyStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if hop != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, xds.HopMetadata, hop)
	}
	if len(kv) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, kv...)
	}
	st, err := h.client.Process(ctx)
	if err != nil {
		cancel()
		t.Fatalf("Process: %v", err)
	}
	t.Cleanup(cancel)
	return &envoyStream{t: t, stream: st, cancel: cancel}
}

// openVersioned is open for a router hop whose routes carry config
// version (xds.ConfigVersionMetadata), as Envoy's do.
func (h *harness) openVersioned(t *testing.T, version string) *envoyStream {
	t.Helper()
	return h.open(t, xds.HopRouter, xds.ConfigVersionMetadata, version)
}

// send sends one phase and waits for its answer.
func (s *envoyStream) send(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
	s.t.Helper()
	if err := s.stream.Send(req); err != nil {
		s.t.Fatalf("send %T: %v", req.GetRequest(), err)
	}
	if s.awaiting {
		s.held = s.recv(req)
		s.awaiting = false
	}
	return s.recv(req)
}

func (s *envoyStream) recv(after *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
	s.t.Helper()
	resp, err := s.stream.Recv()
	if err != nil {
		s.t.Fatalf("recv after %T: %v", after.GetRequest(), err)
	}
	return resp
}

// streamHeaders sends a stream's response headers. The hop answers them
// only with the first body chunk: first it asks Envoy to wait that long,
// and streamHeaders returns the wait. heldHeaders has the answer later.
func (s *envoyStream) streamHeaders(req *extprocv3.ProcessingRequest) time.Duration {
	s.t.Helper()
	resp := s.send(req)
	if resp.GetResponse() != nil || resp.GetOverrideMessageTimeout() == nil {
		s.t.Fatalf("stream headers answered with %v, want only override_message_timeout", resp)
	}
	s.awaiting = true
	return resp.GetOverrideMessageTimeout().AsDuration()
}

// holdHeaders sends response headers the hop holds without a word (the
// router hop's): the answer comes with a body chunk, for heldHeaders.
func (s *envoyStream) holdHeaders(req *extprocv3.ProcessingRequest) {
	s.t.Helper()
	if err := s.stream.Send(req); err != nil {
		s.t.Fatalf("send %T: %v", req.GetRequest(), err)
	}
	s.awaiting = true
}

// heldHeaders is the answer to a stream's headers, once a body chunk went.
func (s *envoyStream) heldHeaders() *extprocv3.ProcessingResponse {
	s.t.Helper()
	if s.held == nil {
		s.t.Fatal("no headers answer held: send a body chunk after streamHeaders")
	}
	return s.held
}

// respond sends a response's headers and body chunks as Envoy does with
// send_body_without_waiting_for_header_response: nothing waits for the
// headers answer, which may come only once the body is in. It returns the
// answers in order: the headers', then one per chunk.
func (s *envoyStream) respond(headers *extprocv3.ProcessingRequest, chunks ...*extprocv3.ProcessingRequest) []*extprocv3.ProcessingResponse {
	s.t.Helper()
	for _, req := range append([]*extprocv3.ProcessingRequest{headers}, chunks...) {
		if err := s.stream.Send(req); err != nil {
			s.t.Fatalf("send %T: %v", req.GetRequest(), err)
		}
	}
	out := make([]*extprocv3.ProcessingResponse, 0, 1+len(chunks))
	for range 1 + len(chunks) {
		resp, err := s.stream.Recv()
		if err != nil {
			s.t.Fatalf("recv answer %d of %d: %v", len(out)+1, 1+len(chunks), err)
		}
		out = append(out, resp)
	}
	return out
}

// close ends the stream as Envoy does once the request is done.
func (s *envoyStream) close() {
	s.t.Helper()
	if err := s.stream.CloseSend(); err != nil {
		s.t.Fatalf("CloseSend: %v", err)
	}
}

// Request builders. Envoy sends header values as raw_value.

func httpHeaders(eos bool, kv []string) *extprocv3.HttpHeaders {
	hm := &corev3.HeaderMap{}
	for i := 0; i+1 < len(kv); i += 2 {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return &extprocv3.HttpHeaders{Headers: hm, EndOfStream: eos}
}

func requestHeaders(eos bool, kv ...string) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: httpHeaders(eos, kv)}}
}

// postHeaders are the headers of a client's chat completions call.
func postHeaders(extra ...string) *extprocv3.ProcessingRequest {
	kv := append([]string{":method", "POST", ":path", "/v1/chat/completions", ":authority", "gw.example.test",
		":scheme", "https", "content-type", "application/json"}, extra...)
	return requestHeaders(false, kv...)
}

// attempt is one upstream attempt as Envoy shows it to the upstream hop:
// the cluster's metadata names the provider, the request metadata the
// router hop left carries the public model and the plan, and the
// x-envoy-attempt-count header numbers the attempt.
type attempt struct {
	provider string // cluster metadata "switchboard".provider; "" sends none
	model    string // "switchboard.request".model; "" sends no request metadata
	plan     string // "switchboard.request".plan; "" is the one group provider|model
	n        int    // x-envoy-attempt-count; 0 sends none
}

// headers are the request headers of the attempt: the client's, what the
// router hop set, Envoy's attempt count, and extra.
func (a attempt) headers(extra ...string) *extprocv3.ProcessingRequest {
	kv := []string{
		"authorization", "Bearer client-gateway-key",
		"x-api-key", "client-gateway-key",
		"accept-encoding", "gzip, br",
		"x-session-id", "client-session",
		xds.ModelHeader, a.model,
		xds.AttemptsHeader, "3",
	}
	if a.n > 0 {
		kv = append(kv, "x-envoy-attempt-count", strconv.Itoa(a.n))
	}
	req := postHeaders(append(kv, extra...)...)
	plan := a.plan
	if plan == "" {
		plan = a.provider + "|" + a.model
	}
	var request *structpb.Struct
	if a.model != "" {
		request = &structpb.Struct{Fields: map[string]*structpb.Value{
			"model": structpb.NewStringValue(a.model),
			"plan":  structpb.NewStringValue(plan),
		}}
	}
	return withMetadata(req, a.provider, request)
}

// withMetadata adds the metadata Envoy forwards on the upstream hop: the
// cluster's provider and the router hop's request namespace (nil: none).
func withMetadata(req *extprocv3.ProcessingRequest, provider string, request *structpb.Struct) *extprocv3.ProcessingRequest {
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
	if provider != "" {
		md.FilterMetadata[xds.MetadataNamespace] = &structpb.Struct{Fields: map[string]*structpb.Value{"provider": structpb.NewStringValue(provider)}}
	}
	if request != nil {
		md.FilterMetadata[xds.RequestNamespace] = request
	}
	if len(md.FilterMetadata) > 0 {
		req.MetadataContext = md
	}
	return req
}

// withBody adds the body the router hop forwards as metadata
// (forward.go) to an upstream hop's request headers.
func withBody(req *extprocv3.ProcessingRequest, body []byte) *extprocv3.ProcessingRequest {
	if req.MetadataContext == nil {
		req.MetadataContext = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
	}
	req.MetadataContext.FilterMetadata[xds.BodyNamespace] = &structpb.Struct{Fields: map[string]*structpb.Value{"body": structpb.NewStringValue(string(body))}}
	return req
}

// upstreamHeaders are the headers of a first attempt on provider's
// cluster for a plan of that one candidate.
func upstreamHeaders(provider, model string) *extprocv3.ProcessingRequest {
	return attempt{provider: provider, model: model, n: 1}.headers()
}

// startUpstream opens an upstream-hop stream for a first attempt on
// provider's cluster and sends the request phases, checking they continue.
func (h *harness) startUpstream(t *testing.T, provider, model string, body []byte) *envoyStream {
	t.Helper()
	return h.startAttempt(t, attempt{provider: provider, model: model, n: 1}, body)
}

// startAttempt is startUpstream for any attempt.
func (h *harness) startAttempt(t *testing.T, a attempt, body []byte) *envoyStream {
	t.Helper()
	s := h.open(t, xds.HopUpstream)
	continued(t, s.send(a.headers()))
	continued(t, s.send(requestBody(body)))
	return s
}

// routed is what the router hop decided for one request.
type routed struct {
	mutation mutation
	// request is the "switchboard.request" metadata for the upstream hop.
	request *structpb.Struct
	// override is the "switchboard.plan" metadata; nil when the route's
	// configured priority groups serve the plan.
	override *structpb.Struct
	// metadata is the whole dynamic metadata.
	metadata *structpb.Struct
}

// route runs the router hop on a chat body and returns its decision.
func (h *harness) route(t *testing.T, body []byte, extra ...string) routed {
	t.Helper()
	s := h.open(t, xds.HopRouter)
	continued(t, s.send(postHeaders(extra...)))
	resp := s.send(requestBody(body))
	c := continued(t, resp)
	s.close()
	if err := h.waitEnded(t); err != nil {
		t.Errorf("router hop: Process returned %v", err)
	}
	md := resp.GetDynamicMetadata()
	return routed{
		mutation: readMutation(c.GetHeaderMutation()),
		request:  md.GetFields()[xds.RequestNamespace].GetStructValue(),
		override: md.GetFields()[xds.PlanNamespace].GetStructValue(),
		metadata: md,
	}
}

// plan is the encoded plan of a routed request.
func (r routed) plan() string { return r.request.GetFields()["plan"].GetStringValue() }

// requestBody is a whole buffered request body.
func requestBody(body []byte) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: body, EndOfStream: true}}}
}

func responseHeaders(eos bool, kv ...string) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: httpHeaders(eos, kv)}}
}

func responseBody(chunk []byte, eos bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: chunk, EndOfStream: eos}}}
}

// chatBody is an OpenAI chat completions request.
func chatBody(model string, stream bool) []byte {
	b, _ := json.Marshal(map[string]any{
		"model":    model,
		"stream":   stream,
		"messages": []map[string]string{{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Write a haiku about gateways."}},
	})
	return b
}

// Readers of the answers.

// mutation is a HeaderMutation as maps, for assertions.
type mutation struct {
	set    map[string]string
	remove []string
}

func readMutation(m *extprocv3.HeaderMutation) mutation {
	out := mutation{set: map[string]string{}, remove: m.GetRemoveHeaders()}
	for _, o := range m.GetSetHeaders() {
		out.set[o.GetHeader().GetKey()] = string(o.GetHeader().GetRawValue()) + o.GetHeader().GetValue()
	}
	return out
}

func (m mutation) removes(name string) bool {
	for _, r := range m.remove {
		if r == name {
			return true
		}
	}
	return false
}

// continued returns the CommonResponse of a phase's answer, failing the
// test when the answer is of another phase or an immediate response.
func continued(t *testing.T, resp *extprocv3.ProcessingResponse) *extprocv3.CommonResponse {
	t.Helper()
	var hr *extprocv3.HeadersResponse
	var br *extprocv3.BodyResponse
	switch r := resp.GetResponse().(type) {
	case *extprocv3.ProcessingResponse_RequestHeaders:
		hr = r.RequestHeaders
	case *extprocv3.ProcessingResponse_ResponseHeaders:
		hr = r.ResponseHeaders
	case *extprocv3.ProcessingResponse_RequestBody:
		br = r.RequestBody
	case *extprocv3.ProcessingResponse_ResponseBody:
		br = r.ResponseBody
	case *extprocv3.ProcessingResponse_ImmediateResponse:
		t.Fatalf("got immediate response %d %s: %s", r.ImmediateResponse.GetStatus().GetCode(), r.ImmediateResponse.GetDetails(), r.ImmediateResponse.GetBody())
	default:
		t.Fatalf("unexpected response %T", r)
	}
	if hr != nil {
		return hr.GetResponse()
	}
	return br.GetResponse()
}

// bodyOut is what Envoy forwards for a chunk after the mutation.
func bodyOut(in []byte, c *extprocv3.CommonResponse) []byte {
	switch m := c.GetBodyMutation().GetMutation().(type) {
	case *extprocv3.BodyMutation_Body:
		return m.Body
	case *extprocv3.BodyMutation_ClearBody:
		if m.ClearBody {
			return nil
		}
	}
	return in
}

// openAIError is the OpenAI error body.
type openAIError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func decodeError(t *testing.T, body []byte) openAIError {
	t.Helper()
	var e openAIError
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %.300q is not the OpenAI error shape: %v", body, err)
	}
	if dec.More() || dec.InputOffset() != int64(len(bytes.TrimSpace(body))) {
		t.Fatalf("error body %.300q has bytes after the JSON", body)
	}
	if e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("error body %s lacks message or type", body)
	}
	if !bytes.Contains(body, []byte(`"param":`)) {
		t.Fatalf("error body %s lacks param (null when none, as OpenAI's)", body)
	}
	return e
}

func (e openAIError) code() string {
	if e.Error.Code == nil {
		return ""
	}
	return *e.Error.Code
}

// checkImmediate asserts an immediate OpenAI-shaped error reply.
func checkImmediate(t *testing.T, resp *extprocv3.ProcessingResponse, status int, code string) openAIError {
	t.Helper()
	ir := resp.GetImmediateResponse()
	if ir == nil {
		t.Fatalf("want immediate %d %s, got %T", status, code, resp.GetResponse())
	}
	if got := int(ir.GetStatus().GetCode()); got != status {
		t.Errorf("status = %d, want %d (body %s)", got, status, ir.GetBody())
	}
	if want := "switchboard_" + code; ir.GetDetails() != want {
		t.Errorf("details = %q, want %q", ir.GetDetails(), want)
	}
	if ct := readMutation(ir.GetHeaders()).set["content-type"]; ct != "application/json" {
		t.Errorf("content-type = %q, want application/json", ct)
	}
	e := decodeError(t, ir.GetBody())
	if e.code() != code {
		t.Errorf("error.code = %q, want %q (body %s)", e.code(), code, ir.GetBody())
	}
	return e
}

// transcript is a recorded provider response under testdata/transcripts.
type transcript struct {
	status  string
	headers []string // lowercased key, value pairs as Envoy sends them
	body    []byte
}

func readTranscript(tb testing.TB, provider, name string) transcript {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "transcripts", provider, name+".http"))
	if err != nil {
		tb.Fatal(err)
	}
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	head, body, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		tb.Fatalf("%s/%s: no blank line after the headers", provider, name)
	}
	lines := strings.Split(string(head), "\n")
	status := strings.Fields(lines[0])
	if len(status) < 2 {
		tb.Fatalf("%s/%s: bad status line %q", provider, name, lines[0])
	}
	tr := transcript{status: status[1], headers: []string{":status", status[1]}, body: body}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		tr.headers = append(tr.headers, strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v))
	}
	return tr
}

// split cuts b into chunks of the given sizes, cycling through them.
func split(b []byte, sizes ...int) [][]byte {
	var out [][]byte
	for i := 0; len(b) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// sseData returns the data: payloads of an SSE stream in order.
func sseData(t *testing.T, stream []byte) []string {
	t.Helper()
	var out []string
	for _, ev := range strings.Split(string(stream), "\n\n") {
		if ev == "" {
			continue
		}
		d, ok := strings.CutPrefix(ev, "data: ")
		if !ok || strings.Contains(d, "\n") {
			t.Fatalf("event %q is not one data: line", ev)
		}
		out = append(out, d)
	}
	return out
}
