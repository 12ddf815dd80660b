package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"

	"github.com/switchboard-gw/switchboard/extproc"
)

// runNullProc serves the ext_proc floor (bench/target/floor.go): an
// ext_proc server with switchboard's gRPC options (codec, stream workers)
// that answers each request with the messages switchboard's router hop
// sends, and does nothing else.
func runNullProc(args []string) error {
	fs := flag.NewFlagSet("nullproc", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9300", "address to serve on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	g := grpc.NewServer(extproc.ServerOptions()...)
	extprocv3.RegisterExternalProcessorServer(g, nullProc{})
	go func() {
		<-ctx.Done()
		g.Stop()
	}()
	return g.Serve(l)
}

type nullProc struct {
	extprocv3.UnimplementedExternalProcessorServer
}

// Process answers as switchboard's router hop does for a request and its
// answer: the request headers once the body is in (at its content-length
// or end), with the body back unchanged (CONTINUE_AND_REPLACE, so Envoy
// expects no answer per chunk); a whole answer's headers with its body;
// a stream's headers at its first chunk, then each chunk.
func (nullProc) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	var (
		reqHeld, reqDone bool
		reqLen           = -1
		reqBody          []byte
		respHeld, sse    bool
		respBody         []byte
	)
	send := func(r *extprocv3.ProcessingResponse) error { return stream.Send(r) }
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch r := m.Request.(type) {
		case *extprocv3.ProcessingRequest_RequestHeaders:
			if r.RequestHeaders.EndOfStream {
				err = send(headersAnswer(true, nil))
				break
			}
			reqHeld = true
			if v := headerValue(r.RequestHeaders.Headers, "content-length"); v != "" {
				reqLen, _ = strconv.Atoi(v)
			}
		case *extprocv3.ProcessingRequest_RequestBody:
			if reqDone || !reqHeld {
				break // Envoy's empty end-of-body chunk after the answer
			}
			reqBody = append(reqBody, r.RequestBody.Body...)
			if r.RequestBody.EndOfStream || len(reqBody) == reqLen {
				reqDone = true
				err = send(headersAnswer(true, reqBody))
			}
		case *extprocv3.ProcessingRequest_ResponseHeaders:
			if r.ResponseHeaders.EndOfStream {
				err = send(headersAnswer(false, nil))
				break
			}
			respHeld = true
			sse = strings.HasPrefix(headerValue(r.ResponseHeaders.Headers, "content-type"), "text/event-stream")
		case *extprocv3.ProcessingRequest_ResponseBody:
			b := r.ResponseBody
			switch {
			case sse:
				if respHeld {
					respHeld = false
					if err = send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}); err != nil {
						break
					}
				}
				err = send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}})
			case respHeld:
				respBody = append(respBody, b.Body...)
				if b.EndOfStream {
					respHeld = false
					err = send(headersAnswer(false, respBody))
				}
			}
		}
		if err != nil {
			return err
		}
	}
}

// headersAnswer continues a request's (or response's) headers; with a
// body, it puts the body back as it came.
func headersAnswer(request bool, body []byte) *extprocv3.ProcessingResponse {
	hr := &extprocv3.HeadersResponse{}
	if body != nil {
		hr.Response = &extprocv3.CommonResponse{Status: extprocv3.CommonResponse_CONTINUE_AND_REPLACE,
			BodyMutation: &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: body}}}
	}
	if request {
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: hr}}
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: hr}}
}

func headerValue(h *corev3.HeaderMap, name string) string {
	for _, kv := range h.GetHeaders() {
		if kv.Key == name {
			if len(kv.RawValue) > 0 {
				return string(kv.RawValue)
			}
			return kv.Value
		}
	}
	return ""
}
