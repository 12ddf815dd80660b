package extproc

import (
	"fmt"
	"runtime"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// ServerOptions are the gRPC options the ext_proc server needs: room for
// a whole request body in one message, and the codec below.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.ForceServerCodecV2(codec{base: encoding.GetCodecV2("proto")}),
		// Every HTTP request opens two gRPC streams. A fresh goroutine per
		// stream grew its stack through the translators each time
		// (runtime.copystack was 11% of CPU under load); workers keep
		// theirs. A worker serves one stream to its end, long LLM streams
		// included, so there are many; streams beyond them still get a
		// goroutine each.
		grpc.NumStreamWorkers(uint32(32 * runtime.GOMAXPROCS(0))),
	}
}

// Field numbers of envoy.service.ext_proc.v3.ProcessingRequest.
const (
	fieldRequestHeaders  protowire.Number = 2
	fieldResponseHeaders protowire.Number = 3
	fieldMetadata        protowire.Number = 8
)

// codec is gRPC's protobuf codec with one shortcut on the hot path.
// Envoy attaches the forwarded dynamic metadata to every message of a
// stream, body chunks included; decoding it (a protobuf Struct: maps of
// boxed values) cost 8x the rest of a stream chunk's message (3.9 µs and
// 43 allocations against 0.5 µs and 4). The processors read metadata
// only with headers, so it is skipped on body chunks.
type codec struct{ base encoding.CodecV2 }

func (codec) Name() string { return "proto" }

// vtMessage is a message with go-control-plane's generated (vtprotobuf)
// marshaller, which needs no reflection.
type vtMessage interface {
	SizeVT() int
	MarshalToSizedBufferVTStrict([]byte) (int, error)
}

// Marshal encodes every answer (ProcessingResponse) with its generated
// marshaller: the reflective one was 15% of switchboard's CPU under load,
// most of it sizing the metadata Structs' maps.
func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(vtMessage)
	if !ok {
		return c.base.Marshal(v)
	}
	size := m.SizeVT()
	if mem.IsBelowBufferPoolingThreshold(size) {
		buf := make([]byte, size)
		n, err := m.MarshalToSizedBufferVTStrict(buf)
		if err != nil {
			return nil, fmt.Errorf("extproc: marshal %T: %w", v, err)
		}
		return mem.BufferSlice{mem.SliceBuffer(buf[size-n:])}, nil
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size)
	n, err := m.MarshalToSizedBufferVTStrict(*buf)
	if err != nil {
		pool.Put(buf)
		return nil, fmt.Errorf("extproc: marshal %T: %w", v, err)
	}
	if n != size { // the marshaller fills the buffer from its end
		copy(*buf, (*buf)[size-n:])
		*buf = (*buf)[:n]
	}
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*extprocv3.ProcessingRequest)
	if !ok {
		return c.base.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return unmarshalRequest(buf.ReadOnlyData(), m)
}

// unmarshalRequest decodes a ProcessingRequest, leaving out its metadata
// unless it carries request headers. Protobuf messages concatenate, so the parts
// around the metadata are merged in turn; nothing is copied. (proto
// copies bytes fields, so data may be freed afterwards.)
func unmarshalRequest(data []byte, m *extprocv3.ProcessingRequest) error {
	if decodeRequest(data, m) == nil {
		return nil
	}
	return reflectRequest(data, m)
}

// reflectRequest is unmarshalRequest through proto.Unmarshal, for the
// shapes decodeRequest leaves to it.
func reflectRequest(data []byte, m *extprocv3.ProcessingRequest) error {
	keepMetadata := false
	type span struct{ from, to int }
	var spans [2]span
	skip := spans[:0]
	for i := 0; i < len(data); {
		num, typ, n := protowire.ConsumeTag(data[i:])
		if n < 0 {
			return fmt.Errorf("extproc: malformed request: %w", protowire.ParseError(n))
		}
		l := protowire.ConsumeFieldValue(num, typ, data[i+n:])
		if l < 0 {
			return fmt.Errorf("extproc: malformed request: %w", protowire.ParseError(l))
		}
		switch num {
		case fieldRequestHeaders, fieldResponseHeaders:
			keepMetadata = true
		case fieldMetadata:
			skip = append(skip, span{i, i + n + l})
		}
		i += n + l
	}
	if keepMetadata || len(skip) == 0 {
		return proto.Unmarshal(data, m)
	}
	opts := proto.UnmarshalOptions{Merge: true}
	m.Reset()
	at := 0
	for _, s := range skip {
		if err := opts.Unmarshal(data[at:s.from], m); err != nil {
			return err
		}
		at = s.to
	}
	return opts.Unmarshal(data[at:], m)
}
