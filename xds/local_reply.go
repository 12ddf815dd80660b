package xds

import (
	"fmt"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	celv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/filters/cel/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// localReply is one kind of error reply Envoy makes itself, and what it
// tells the client.
type localReply struct {
	// when is a CEL condition on the reply (response.code,
	// response.code_details, xds.*); flags, when set, must match too.
	when  string
	flags []string
	// OpenAI's error type and the gateway's code, Anthropic's error type.
	openAIType, code, anthropicType string
	message                         string
	// status, when set, replaces the reply's status.
	status uint32
}

func replyStatus(code int) string { return fmt.Sprintf("response.code == %d", code) }

// localReplies are tried in order; the first that matches writes the
// reply. Details and flags say what failed, so an ext_proc timeout is not
// a provider timeout and a missing route is not an unreachable provider.
var localReplies = []localReply{
	// ext_proc picked a model Envoy has no route for yet (the control
	// plane's push has not arrived): the request fell to the unrouted
	// cluster, which has no host. (Every API request matches that cluster
	// before the router hop routes it: UH tells the two apart.)
	{when: "xds.cluster_name == '" + UnroutedCluster + "'", flags: []string{"UH"}, openAIType: "server_error", code: "model_not_routed", anthropicType: "api_error",
		message: "the gateway has no route for this model yet: its configuration is still reaching the proxy; retry shortly"},
	{when: "true", flags: []string{"NR"}, openAIType: "invalid_request_error", code: "route_not_found", anthropicType: "not_found_error",
		message: "no route serves this request"},
	// ext_proc failures: details ext_proc_error_gRPC_error_<code>{...}, or
	// ext_proc_error_per-message_timeout_exceeded (504).
	{when: "response.code_details.startsWith('ext_proc') && response.code_details.contains('timeout')", openAIType: "server_error", code: "processing_timeout", anthropicType: "timeout_error",
		message: "the gateway's processing service did not answer in time"},
	{when: "response.code_details.startsWith('ext_proc')", openAIType: "server_error", code: "service_unavailable", anthropicType: "api_error",
		message: "the gateway cannot process the request right now: its processing service is unavailable"},
	// The overload manager refuses requests near Envoy's heap limit.
	{when: "response.code_details == 'overload'", openAIType: "server_error", code: "overloaded", anthropicType: "overloaded_error",
		message: "the gateway is overloaded; retry shortly"},
	// No healthy host, connect failure, retries exhausted.
	{when: "true", flags: []string{"UH", "UF", "URX"}, openAIType: "server_error", code: "provider_unreachable", anthropicType: "api_error",
		message: "the provider cannot be reached"},
	{when: replyStatus(413), openAIType: "invalid_request_error", code: "request_too_large", anthropicType: "request_too_large",
		message: "request body exceeds the gateway's size limit"},
	// timeouts.client_request on a request Envoy has whole but the router
	// hop never saw end (an HTTP/2 body with trailers and no
	// content-length, extproc/joined.go): Envoy says 504; it is the
	// client's request that did not get through in time.
	{when: "response.code_details == 'request_overall_timeout'", openAIType: "invalid_request_error", code: "request_timeout", anthropicType: "invalid_request_error",
		message: "the request was not received in time", status: 408},
	{when: replyStatus(504), openAIType: "server_error", code: "upstream_timeout", anthropicType: "timeout_error",
		message: "the provider did not answer in time"},
	{when: replyStatus(502), openAIType: "server_error", code: "upstream_error", anthropicType: "api_error",
		message: "the provider connection failed"},
	{when: replyStatus(500), openAIType: "server_error", code: "internal_error", anthropicType: "api_error",
		message: "the gateway failed to process the request"},
	{when: replyStatus(400), openAIType: "invalid_request_error", code: "bad_request", anthropicType: "invalid_request_error",
		message: "malformed HTTP request"},
	{when: replyStatus(408), openAIType: "invalid_request_error", code: "request_timeout", anthropicType: "invalid_request_error",
		message: "the request was not received in time"},
	{when: replyStatus(503), openAIType: "server_error", code: "service_unavailable", anthropicType: "api_error",
		message: "the service is unavailable right now"},
}

// onMessagesCEL holds for requests to /v1/messages, whose clients expect
// Anthropic's error shape. Not a header match on :path: the upstream hop
// rewrites :path for the provider, in the headers Envoy replies for too.
var onMessagesCEL = "(" + clientPathCEL + ").startsWith('" + MessagesPath + "')"

// localReplyConfig puts Envoy's own error replies (body too large, ext_proc
// unreachable, provider unreachable, timeouts) in the error shape of the
// client's API: Anthropic's on /v1/messages, OpenAI's elsewhere. Replies
// the ext_proc server sends itself carry response code details starting
// with "switchboard" and are left alone.
func localReplyConfig() *hcmv3.LocalReplyConfig {
	var mappers []*hcmv3.ResponseMapper
	for _, r := range localReplies {
		when := "!response.code_details.startsWith('switchboard') && (" + r.when + ")"
		anthropic, openAI := responseMapper(when+" && "+onMessagesCEL, r.flags, r.message, anthropicErrorFormat(r.anthropicType)),
			responseMapper(when, r.flags, r.message, openAIErrorFormat(r.openAIType, r.code))
		if r.status != 0 {
			anthropic.StatusCode, openAI.StatusCode = wrapperspb.UInt32(r.status), wrapperspb.UInt32(r.status)
		}
		mappers = append(mappers, anthropic, openAI)
	}
	return &hcmv3.LocalReplyConfig{Mappers: mappers}
}

func responseMapper(when string, flags []string, message string, format *corev3.SubstitutionFormatString) *hcmv3.ResponseMapper {
	filter := &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_ExtensionFilter{ExtensionFilter: &accesslogv3.ExtensionFilter{
		Name:       "envoy.access_loggers.extension_filters.cel",
		ConfigType: &accesslogv3.ExtensionFilter_TypedConfig{TypedConfig: mustAny(&celv3.ExpressionFilter{Expression: when})},
	}}}
	if len(flags) > 0 {
		filter = &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_AndFilter{AndFilter: &accesslogv3.AndFilter{Filters: []*accesslogv3.AccessLogFilter{
			{FilterSpecifier: &accesslogv3.AccessLogFilter_ResponseFlagFilter{ResponseFlagFilter: &accesslogv3.ResponseFlagFilter{Flags: flags}}},
			filter,
		}}}}
	}
	return &hcmv3.ResponseMapper{
		Filter:             filter,
		Body:               &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: message}},
		BodyFormatOverride: format,
	}
}

// openAIErrorFormat is OpenAI's error shape, "param": null included.
func openAIErrorFormat(errType, code string) *corev3.SubstitutionFormatString {
	return jsonFormat(map[string]*structpb.Value{
		"error": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			"message": structpb.NewStringValue("%LOCAL_REPLY_BODY%"),
			"type":    structpb.NewStringValue(errType),
			"code":    structpb.NewStringValue(code),
			"param":   structpb.NewNullValue(),
		}}),
	})
}

// anthropicErrorFormat is Anthropic's error shape.
func anthropicErrorFormat(errType string) *corev3.SubstitutionFormatString {
	return jsonFormat(map[string]*structpb.Value{
		"type": structpb.NewStringValue("error"),
		"error": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			"type":    structpb.NewStringValue(errType),
			"message": structpb.NewStringValue("%LOCAL_REPLY_BODY%"),
		}}),
	})
}

func jsonFormat(fields map[string]*structpb.Value) *corev3.SubstitutionFormatString {
	return &corev3.SubstitutionFormatString{
		Format:      &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: &structpb.Struct{Fields: fields}},
		ContentType: "application/json",
	}
}
