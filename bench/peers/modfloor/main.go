// Command modfloor is the in-process floor for `bench -peers modfloor`:
// an Envoy dynamic-module HTTP filter, in Go, that does what the ext_proc
// floor's null server does and nothing more. It holds the request until
// its body is in and copies that body into Go, then copies each response
// chunk into Go as it passes, changing nothing. What it adds to plain
// Envoy is what an in-process Go data path (issue 12, direction 3) pays
// before it does any work: the cgo crossings and the copies.
//
// The Go SDK for dynamic modules cannot be fetched here, so the few ABI
// functions it needs are declared by hand from Envoy 1.40's abi.h (the
// signatures were checked against the 1.40 binary's callbacks). Build:
//
//	go build -buildmode=c-shared -o libswitchboard_floor.so ./bench/peers/modfloor
package main

/*
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	const char* ptr;
	size_t length;
} envoy_buffer;

// Callbacks Envoy exports. body_type: 0 received request body, 1 buffered
// request body, 2 received response body, 3 buffered response body. Weak:
// they resolve when Envoy loads the library, and a plain `go build ./...`
// (an executable, never run) links without them.
__attribute__((weak)) size_t envoy_dynamic_module_callback_http_get_body_chunks_size(void* filter, int body_type);
__attribute__((weak)) bool envoy_dynamic_module_callback_http_get_body_chunks(void* filter, int body_type, envoy_buffer* out);

// copy_body copies the chunks of one body to dst (cap bytes) and returns
// how many bytes it wrote, or the size needed when dst is too small: one
// cgo call for the whole body instead of one per callback.
static size_t copy_body(void* filter, int body_type, char* dst, size_t cap) {
	if (!envoy_dynamic_module_callback_http_get_body_chunks_size) return 0; // not in Envoy
	size_t n = envoy_dynamic_module_callback_http_get_body_chunks_size(filter, body_type);
	if (n == 0) return 0;
	envoy_buffer small[16];
	envoy_buffer* chunks = n <= 16 ? small : malloc(n * sizeof(envoy_buffer));
	size_t at = 0;
	if (chunks != NULL && envoy_dynamic_module_callback_http_get_body_chunks(filter, body_type, chunks)) {
		size_t total = 0;
		for (size_t i = 0; i < n; i++) total += chunks[i].length;
		if (total > cap) {
			at = total;
		} else {
			for (size_t i = 0; i < n; i++) {
				memcpy(dst + at, chunks[i].ptr, chunks[i].length);
				at += chunks[i].length;
			}
		}
	}
	if (chunks != small) free(chunks);
	return at;
}
*/
import "C"

import (
	"sync"
	"unsafe"
)

const (
	headersContinue      = 0
	headersStopIteration = 1
	bodyContinue         = 0
	bodyStopAndBuffer    = 1

	receivedRequest  = 0
	bufferedRequest  = 1
	receivedResponse = 2
)

// token is what the module hands Envoy for its config and filters: the
// floor keeps no state per request, and Go pointers must not be kept by C.
var token = C.malloc(1)

// bufs are the Go buffers bodies are copied into, as a translator would
// read them.
var bufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// copyBody copies one of the filter's bodies into Go memory.
func copyBody(filter unsafe.Pointer, bodyType C.int) {
	p := bufs.Get().(*[]byte)
	b := *p
	n := C.copy_body(filter, bodyType, (*C.char)(unsafe.Pointer(&b[0])), C.size_t(len(b)))
	if n > C.size_t(len(b)) {
		b = make([]byte, int(n))
		C.copy_body(filter, bodyType, (*C.char)(unsafe.Pointer(&b[0])), C.size_t(len(b)))
		*p = b
	}
	bufs.Put(p)
}

//export envoy_dynamic_module_on_http_filter_config_new
func envoy_dynamic_module_on_http_filter_config_new(envoyConfig unsafe.Pointer, name *C.char, nameLen C.size_t, config *C.char, configLen C.size_t) unsafe.Pointer {
	return token
}

//export envoy_dynamic_module_on_http_filter_new
func envoy_dynamic_module_on_http_filter_new(config, envoyFilter unsafe.Pointer) unsafe.Pointer { return token }

//export envoy_dynamic_module_on_http_filter_request_headers
func envoy_dynamic_module_on_http_filter_request_headers(filter, module unsafe.Pointer, eos C.bool) C.int {
	if eos {
		return headersContinue
	}
	return headersStopIteration // routing waits for the body, as switchboard's does
}

//export envoy_dynamic_module_on_http_filter_request_body
func envoy_dynamic_module_on_http_filter_request_body(filter, module unsafe.Pointer, eos C.bool) C.int {
	if !eos {
		return bodyStopAndBuffer
	}
	copyBody(filter, bufferedRequest)
	copyBody(filter, receivedRequest)
	return bodyContinue
}

//export envoy_dynamic_module_on_http_filter_response_headers
func envoy_dynamic_module_on_http_filter_response_headers(filter, module unsafe.Pointer, eos C.bool) C.int {
	return headersContinue
}

//export envoy_dynamic_module_on_http_filter_response_body
func envoy_dynamic_module_on_http_filter_response_body(filter, module unsafe.Pointer, eos C.bool) C.int {
	copyBody(filter, receivedResponse)
	return bodyContinue
}

func main() {}
