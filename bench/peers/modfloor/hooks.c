// Event hooks of Envoy's dynamic-module ABI that the floor has no use
// for. Envoy 1.40 resolves every HTTP filter hook by name when it loads
// the filter, so each must exist; only the return types matter to the
// caller (the arguments, passed in registers, are ignored).
#include <stddef.h>
#include <stdint.h>

// Envoy 1.40's ABI version; a mismatch is only a warning.
static const char abi_version[] = "v0.2.0";
const char* envoy_dynamic_module_on_program_init(void) { return abi_version; }

void envoy_dynamic_module_on_http_filter_config_destroy(void* config) {}
void* envoy_dynamic_module_on_http_filter_per_route_config_new(void) { return NULL; }
void envoy_dynamic_module_on_http_filter_per_route_config_destroy(void* config) {}
int envoy_dynamic_module_on_http_filter_request_trailers(void) { return 0; }  // Continue
int envoy_dynamic_module_on_http_filter_response_trailers(void) { return 0; } // Continue
int envoy_dynamic_module_on_http_filter_local_reply(void) { return 0; }       // Continue
void envoy_dynamic_module_on_http_filter_stream_complete(void) {}
void envoy_dynamic_module_on_http_filter_scheduled(void) {}
void envoy_dynamic_module_on_http_filter_config_scheduled(void) {}
void envoy_dynamic_module_on_http_filter_http_callout_done(void) {}
void envoy_dynamic_module_on_http_filter_config_http_callout_done(void) {}
void envoy_dynamic_module_on_http_filter_http_stream_headers(void) {}
void envoy_dynamic_module_on_http_filter_http_stream_data(void) {}
void envoy_dynamic_module_on_http_filter_http_stream_trailers(void) {}
void envoy_dynamic_module_on_http_filter_http_stream_complete(void) {}
void envoy_dynamic_module_on_http_filter_http_stream_reset(void) {}
void envoy_dynamic_module_on_http_filter_config_http_stream_headers(void) {}
void envoy_dynamic_module_on_http_filter_config_http_stream_data(void) {}
void envoy_dynamic_module_on_http_filter_config_http_stream_trailers(void) {}
void envoy_dynamic_module_on_http_filter_config_http_stream_complete(void) {}
void envoy_dynamic_module_on_http_filter_config_http_stream_reset(void) {}
void envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(void) {}
void envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(void) {}
