package xds

import (
	"fmt"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	celv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/filters/cel/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// localReplyConfig puts Envoy's own error replies (body too large, ext_proc
// unreachable, provider unreachable, timeouts) in the OpenAI error shape.
// Replies the ext_proc server sends itself carry response code details
// starting with "switchboard" and are left alone.
func localReplyConfig() *hcmv3.LocalReplyConfig {
	mapper := func(status uint32, errType, code, msg string) *hcmv3.ResponseMapper {
		expr := fmt.Sprintf("response.code == %d && !response.code_details.startsWith('switchboard')", status)
		return &hcmv3.ResponseMapper{
			Filter: &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_ExtensionFilter{ExtensionFilter: &accesslogv3.ExtensionFilter{
				Name:       "envoy.access_loggers.extension_filters.cel",
				ConfigType: &accesslogv3.ExtensionFilter_TypedConfig{TypedConfig: mustAny(&celv3.ExpressionFilter{Expression: expr})},
			}}},
			Body:               &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: msg}},
			BodyFormatOverride: openAIErrorFormat(errType, code),
		}
	}
	// A provider that cannot be reached is told apart from ext_proc being
	// down by Envoy's response flags (UH no healthy host, UF connect failure).
	unreachable := mapper(503, "server_error", "provider_unreachable", "the provider cannot be reached")
	unreachable.Filter = &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_ResponseFlagFilter{
		ResponseFlagFilter: &accesslogv3.ResponseFlagFilter{Flags: []string{"UH", "UF", "URX"}},
	}}
	return &hcmv3.LocalReplyConfig{Mappers: []*hcmv3.ResponseMapper{
		unreachable,
		mapper(413, "invalid_request_error", "request_too_large", "request body exceeds the gateway's size limit"),
		mapper(503, "server_error", "service_unavailable", "the gateway cannot process the request right now: its processing service is unavailable"),
		mapper(504, "server_error", "upstream_timeout", "the provider did not answer in time"),
		mapper(502, "server_error", "upstream_error", "the provider connection failed"),
		mapper(500, "server_error", "internal_error", "the gateway failed to process the request"),
		mapper(400, "invalid_request_error", "bad_request", "malformed HTTP request"),
		mapper(408, "invalid_request_error", "request_timeout", "the request was not received in time"),
	}}
}

func openAIErrorFormat(errType, code string) *corev3.SubstitutionFormatString {
	return &corev3.SubstitutionFormatString{
		Format: &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: &structpb.Struct{Fields: map[string]*structpb.Value{
			"error": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
				"message": structpb.NewStringValue("%LOCAL_REPLY_BODY%"),
				"type":    structpb.NewStringValue(errType),
				"code":    structpb.NewStringValue(code),
			}}),
		}}},
		ContentType: "application/json",
	}
}
