package main

// The slice of Envoy 1.40's dynamic-module ABI this module uses, declared
// by hand (abi.h is Envoy's; these are the same C signatures). Struct
// buffers {ptr, length} are passed by value, as abi.h does.

/*
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	const char* ptr;
	size_t length;
} sb_buffer;

// Callbacks Envoy exports. Weak: they resolve when Envoy loads the
// library, and a plain `go build ./...` (an executable, never run) links
// without them.
__attribute__((weak)) size_t envoy_dynamic_module_callback_http_get_body_chunks_size(uintptr_t filter, int body_type);
__attribute__((weak)) bool envoy_dynamic_module_callback_http_get_body_chunks(uintptr_t filter, int body_type, sb_buffer* out);
__attribute__((weak)) bool envoy_dynamic_module_callback_http_drain_body(uintptr_t filter, int body_type, size_t n);
__attribute__((weak)) bool envoy_dynamic_module_callback_http_append_body(uintptr_t filter, int body_type, sb_buffer data);
__attribute__((weak)) size_t envoy_dynamic_module_callback_http_get_body_size(uintptr_t filter, int body_type);
__attribute__((weak)) bool envoy_dynamic_module_callback_http_set_header(uintptr_t filter, int header_type, sb_buffer key, sb_buffer value);

static bool sb_in_envoy(void) { return envoy_dynamic_module_callback_http_get_body_chunks_size != NULL; }

// sb_body_size is the length of one body (0 when there is none).
static size_t sb_body_size(uintptr_t filter, int body_type) {
	return envoy_dynamic_module_callback_http_get_body_size(filter, body_type);
}

// sb_copy_body copies the chunks of one body to dst, which has room for
// sb_body_size bytes: one cgo call for the whole body.
static size_t sb_copy_body(uintptr_t filter, int body_type, char* dst, size_t cap) {
	size_t n = envoy_dynamic_module_callback_http_get_body_chunks_size(filter, body_type);
	if (n == 0) return 0;
	sb_buffer small[16];
	sb_buffer* chunks = n <= 16 ? small : malloc(n * sizeof(sb_buffer));
	size_t at = 0;
	if (chunks != NULL && envoy_dynamic_module_callback_http_get_body_chunks(filter, body_type, chunks)) {
		for (size_t i = 0; i < n && at + chunks[i].length <= cap; i++) {
			memcpy(dst + at, chunks[i].ptr, chunks[i].length);
			at += chunks[i].length;
		}
	}
	if (chunks != small) free(chunks);
	return at;
}

// sb_replace_body empties the bodies a and b (b < 0: a alone) and puts
// data in a's place.
static void sb_replace_body(uintptr_t filter, int a, int b, const char* data, size_t len) {
	if (b >= 0) envoy_dynamic_module_callback_http_drain_body(filter, b, envoy_dynamic_module_callback_http_get_body_size(filter, b));
	envoy_dynamic_module_callback_http_drain_body(filter, a, envoy_dynamic_module_callback_http_get_body_size(filter, a));
	sb_buffer d = {data, len};
	if (len > 0) envoy_dynamic_module_callback_http_append_body(filter, a, d);
}

static void sb_set_header(uintptr_t filter, int header_type, const char* k, size_t kl, const char* v, size_t vl) {
	sb_buffer key = {k, kl}, value = {v, vl};
	envoy_dynamic_module_callback_http_set_header(filter, header_type, key, value);
}
*/
import "C"

import (
	"runtime/cgo"
	"strconv"
	"unsafe"
)

// Status values of the hooks, and the kinds of headers and bodies the
// callbacks name (abi.h's enums).
const (
	headersContinue      = 0
	headersStopIteration = 1
	bodyContinue         = 0
	bodyStopAndBuffer    = 1

	requestHeader  = 0
	responseHeader = 2

	receivedRequest  = 0
	bufferedRequest  = 1
	receivedResponse = 2
	bufferedResponse = 3
)

// readBody appends the bodies of the given kinds to dst, in order.
func readBody(env uintptr, dst []byte, kinds ...C.int) []byte {
	if !C.sb_in_envoy() {
		return dst
	}
	for _, k := range kinds {
		n := int(C.sb_body_size(C.uintptr_t(env), k))
		if n == 0 {
			continue
		}
		at := len(dst)
		dst = append(dst, make([]byte, n)...)
		got := C.sb_copy_body(C.uintptr_t(env), k, (*C.char)(unsafe.Pointer(&dst[at])), C.size_t(n))
		dst = dst[:at+int(got)]
	}
	return dst
}

// replaceBody puts data in place of the bodies of kinds (one or two).
func replaceBody(env uintptr, data []byte, kinds ...C.int) {
	if !C.sb_in_envoy() {
		return
	}
	b := C.int(-1)
	if len(kinds) > 1 {
		b = kinds[0]
	}
	a := kinds[len(kinds)-1]
	var p *C.char
	if len(data) > 0 {
		p = (*C.char)(unsafe.Pointer(&data[0]))
	}
	C.sb_replace_body(C.uintptr_t(env), a, b, p, C.size_t(len(data)))
}

func setHeader(env uintptr, kind C.int, key, value string) {
	if !C.sb_in_envoy() {
		return
	}
	C.sb_set_header(C.uintptr_t(env), kind, (*C.char)(unsafe.Pointer(unsafe.StringData(key))), C.size_t(len(key)),
		(*C.char)(unsafe.Pointer(unsafe.StringData(value))), C.size_t(len(value)))
}

// removeHeader sets no value, which abi.h defines as removing the header.
func removeHeader(env uintptr, kind C.int, key string) {
	if !C.sb_in_envoy() {
		return
	}
	C.sb_set_header(C.uintptr_t(env), kind, (*C.char)(unsafe.Pointer(unsafe.StringData(key))), C.size_t(len(key)), nil, 0)
}

func itoa(n int) string { return strconv.Itoa(n) }

// Event hooks Envoy calls. The module's pointers are cgo handles: Go
// pointers must not be kept by C.

// configToken stands for the module's one filter config.
var configToken = C.malloc(1)

//export envoy_dynamic_module_on_http_filter_config_new
func envoy_dynamic_module_on_http_filter_config_new(envoyConfig unsafe.Pointer, name *C.char, nameLen C.size_t, config *C.char, configLen C.size_t) unsafe.Pointer {
	return configToken
}

//export envoy_dynamic_module_on_http_filter_new
func envoy_dynamic_module_on_http_filter_new(config unsafe.Pointer, env C.uintptr_t) C.uintptr_t {
	return C.uintptr_t(cgo.NewHandle(&filter{env: uintptr(env)}))
}

//export envoy_dynamic_module_on_http_filter_destroy
func envoy_dynamic_module_on_http_filter_destroy(module C.uintptr_t) {
	cgo.Handle(module).Delete()
}

//export envoy_dynamic_module_on_http_filter_request_headers
func envoy_dynamic_module_on_http_filter_request_headers(env, module C.uintptr_t, eos C.bool) C.int {
	return C.int(lookup(uintptr(module)).requestHeaders(bool(eos)))
}

//export envoy_dynamic_module_on_http_filter_request_body
func envoy_dynamic_module_on_http_filter_request_body(env, module C.uintptr_t, eos C.bool) C.int {
	return C.int(lookup(uintptr(module)).requestBody(bool(eos)))
}

//export envoy_dynamic_module_on_http_filter_response_headers
func envoy_dynamic_module_on_http_filter_response_headers(env, module C.uintptr_t, eos C.bool) C.int {
	return C.int(lookup(uintptr(module)).responseHeaders(bool(eos)))
}

//export envoy_dynamic_module_on_http_filter_response_body
func envoy_dynamic_module_on_http_filter_response_body(env, module C.uintptr_t, eos C.bool) C.int {
	return C.int(lookup(uintptr(module)).responseBody(bool(eos)))
}
