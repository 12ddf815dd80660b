package extproc

import (
	"errors"
	"math"
	"unicode/utf8"
	"unsafe"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/structpb"
)

// A hand-written decoder for the ProcessingRequest shapes Envoy sends:
// headers (with the forwarded metadata and protocol configuration) and
// bodies. protobuf's reflective decoder spent 7.5 µs and 118 allocations
// on an upstream hop's request headers (one allocation per header key,
// value and struct); this one shares two buffers per message among every
// string and header value. Anything else — trailers, attributes, a field
// repeated, a string that is not UTF-8 — is left to proto.Unmarshal
// (errUnhandled), which also gives malformed input its error, so both
// decoders agree by construction (FuzzDecodeRequest checks that they do).

// errUnhandled says the message has a shape this decoder leaves to
// proto.Unmarshal; it is not a decoding error.
var errUnhandled = errors.New("extproc: shape left to proto.Unmarshal")

// maxStructDepth bounds the metadata Structs decoded here; switchboard's
// own metadata is two levels deep.
const maxStructDepth = 8

// decoder reads one message. own is its one copy of the message, made on
// the first string or bytes field: strings and header values are views
// of it, so a headers message costs one copy instead of one per field.
// Views never overlap and bytes views are capped at their length, so no
// write through one reaches another; nothing writes to the strings'
// bytes.
type decoder struct {
	data []byte
	own  []byte
}

// field is one wire field: its number and type, and its value: the
// bytes at data[from:to] or, for varint and fixed64, the number v.
type field struct {
	num      protowire.Number
	typ      protowire.Type
	v        uint64
	from, to int
}

// fields iterates over the fields of the message at data[from:to],
// refusing a field number seen twice when unique is set.
type fields struct {
	data   []byte
	at, to int
	seen   uint64
	unique bool
	err    error
	cur    field
}

func (d *decoder) fields(f field, unique bool) fields {
	return fields{data: d.data, at: f.from, to: f.to, unique: unique}
}

// next advances to the next field; false at the end or on an error.
func (it *fields) next() bool {
	if it.at >= it.to || it.err != nil {
		return false
	}
	b := it.data[it.at:it.to]
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		it.err = errUnhandled
		return false
	}
	f := field{num: num, typ: typ}
	var m int
	switch typ {
	case protowire.VarintType:
		f.v, m = protowire.ConsumeVarint(b[n:])
	case protowire.Fixed64Type:
		f.v, m = protowire.ConsumeFixed64(b[n:])
	case protowire.BytesType:
		var v []byte
		v, m = protowire.ConsumeBytes(b[n:])
		f.to = it.at + n + m
		f.from = f.to - len(v)
	default:
		m = -1
	}
	if m < 0 || (it.unique && num < 64 && it.seen&(1<<num) != 0) {
		it.err = errUnhandled
		return false
	}
	if num < 64 {
		it.seen |= 1 << num
	}
	it.at += n + m
	it.cur = f
	return true
}

func (d *decoder) copyData() {
	if d.own == nil {
		d.own = append(make([]byte, 0, len(d.data)), d.data...)
	}
}

// string returns f's bytes as a string viewing the message's one copy.
func (d *decoder) string(f field) (string, error) {
	if f.typ != protowire.BytesType || !utf8.Valid(d.data[f.from:f.to]) {
		return "", errUnhandled
	}
	if f.from == f.to {
		return "", nil
	}
	d.copyData()
	return unsafe.String(&d.own[f.from], f.to-f.from), nil
}

// bytes returns f's bytes as a view of the message's one copy.
func (d *decoder) bytes(f field) ([]byte, error) {
	if f.typ != protowire.BytesType {
		return nil, errUnhandled
	}
	d.copyData()
	return d.own[f.from:f.to:f.to], nil
}

// decodeRequest decodes data into m (reset first), skipping the metadata
// unless headers come with it (see unmarshalRequest). It returns
// errUnhandled for what it leaves to proto.Unmarshal.
func decodeRequest(data []byte, m *extprocv3.ProcessingRequest) error {
	m.Reset()
	d := &decoder{data: data}
	err := d.request(m)
	if err != nil {
		m.Reset()
	}
	return err
}

// Field numbers of ProcessingRequest beyond those in codec.go.
const (
	fieldRequestBody       protowire.Number = 4
	fieldResponseBody      protowire.Number = 5
	fieldObservabilityMode protowire.Number = 10
	fieldProtocolConfig    protowire.Number = 11
)

func (d *decoder) request(m *extprocv3.ProcessingRequest) error {
	var md field
	hasMD, headers := false, false
	it := d.fields(field{to: len(d.data)}, true)
	for it.next() {
		f := it.cur
		if f.num >= fieldRequestHeaders && f.num <= fieldResponseBody && (m.Request != nil || f.typ != protowire.BytesType) {
			return errUnhandled // a oneof set twice: proto keeps the last
		}
		var err error
		switch f.num {
		case fieldRequestHeaders:
			var h *extprocv3.HttpHeaders
			h, err = d.headers(f)
			m.Request, headers = &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: h}, true
		case fieldResponseHeaders:
			var h *extprocv3.HttpHeaders
			h, err = d.headers(f)
			m.Request, headers = &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: h}, true
		case fieldRequestBody:
			var b *extprocv3.HttpBody
			b, err = d.body(f)
			m.Request = &extprocv3.ProcessingRequest_RequestBody{RequestBody: b}
		case fieldResponseBody:
			var b *extprocv3.HttpBody
			b, err = d.body(f)
			m.Request = &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: b}
		case fieldMetadata:
			md, hasMD = f, true // decoded below, once we know whether headers came
			if f.typ != protowire.BytesType {
				err = errUnhandled
			}
		case fieldObservabilityMode:
			m.ObservabilityMode = f.v != 0
			if f.typ != protowire.VarintType {
				err = errUnhandled
			}
		case fieldProtocolConfig:
			m.ProtocolConfig, err = d.protocolConfig(f)
		default:
			err = errUnhandled
		}
		if err != nil {
			return err
		}
	}
	if it.err != nil {
		return it.err
	}
	if hasMD && headers {
		var err error
		m.MetadataContext, err = d.metadata(md)
		return err
	}
	return nil
}

func (d *decoder) headers(f field) (*extprocv3.HttpHeaders, error) {
	h := &extprocv3.HttpHeaders{}
	it := d.fields(f, true)
	for it.next() {
		g := it.cur
		switch {
		case g.num == 1 && g.typ == protowire.BytesType:
			hm, err := d.headerMap(g)
			if err != nil {
				return nil, err
			}
			h.Headers = hm
		case g.num == 3 && g.typ == protowire.VarintType:
			h.EndOfStream = g.v != 0
		default:
			return nil, errUnhandled
		}
	}
	return h, it.err
}

// headerMap decodes every header into one slice of values, counted by a
// first pass.
func (d *decoder) headerMap(f field) (*corev3.HeaderMap, error) {
	n := 0
	for it := d.fields(f, false); it.next(); n++ {
		if it.cur.num != 1 || it.cur.typ != protowire.BytesType {
			return nil, errUnhandled
		}
	}
	vals := make([]corev3.HeaderValue, n)
	hm := &corev3.HeaderMap{Headers: make([]*corev3.HeaderValue, n)}
	it := d.fields(f, false)
	for k := 0; it.next(); k++ {
		hv := &vals[k]
		hm.Headers[k] = hv
		kv := d.fields(it.cur, true)
		for kv.next() {
			var err error
			switch kv.cur.num {
			case 1:
				hv.Key, err = d.string(kv.cur)
			case 2:
				hv.Value, err = d.string(kv.cur)
			case 3:
				hv.RawValue, err = d.bytes(kv.cur)
			default:
				err = errUnhandled
			}
			if err != nil {
				return nil, err
			}
		}
		if kv.err != nil {
			return nil, kv.err
		}
	}
	return hm, it.err
}

func (d *decoder) body(f field) (*extprocv3.HttpBody, error) {
	b := &extprocv3.HttpBody{}
	it := d.fields(f, true)
	for it.next() {
		g := it.cur
		var err error
		switch {
		case g.num == 1 && g.typ == protowire.BytesType:
			// Its own copy: a chunk's message also carries the metadata.
			b.Body = append([]byte{}, d.data[g.from:g.to]...)
		case g.num == 2 && g.typ == protowire.VarintType:
			b.EndOfStream = g.v != 0
		default:
			err = errUnhandled
		}
		if err != nil {
			return nil, err
		}
	}
	return b, it.err
}

func (d *decoder) protocolConfig(f field) (*extprocv3.ProtocolConfiguration, error) {
	if f.typ != protowire.BytesType {
		return nil, errUnhandled
	}
	pc := &extprocv3.ProtocolConfiguration{}
	it := d.fields(f, true)
	for it.next() {
		g := it.cur
		if g.typ != protowire.VarintType {
			return nil, errUnhandled
		}
		switch g.num {
		case 1:
			pc.RequestBodyMode = filterv3.ProcessingMode_BodySendMode(int32(g.v))
		case 2:
			pc.ResponseBodyMode = filterv3.ProcessingMode_BodySendMode(int32(g.v))
		case 3:
			pc.SendBodyWithoutWaitingForHeaderResponse = g.v != 0
		default:
			return nil, errUnhandled
		}
	}
	return pc, it.err
}

// entry reads a map entry (key = 1, value = 2), returning the key and
// the value's field; hasValue is false when the value is absent.
func (d *decoder) entry(f field) (key string, val field, hasValue bool, err error) {
	if f.num != 1 || f.typ != protowire.BytesType {
		return "", field{}, false, errUnhandled
	}
	it := d.fields(f, true)
	for it.next() {
		switch it.cur.num {
		case 1:
			if key, err = d.string(it.cur); err != nil {
				return "", field{}, false, err
			}
		case 2:
			val, hasValue = it.cur, true
		default:
			return "", field{}, false, errUnhandled
		}
	}
	return key, val, hasValue, it.err
}

// metadata decodes config.core.v3.Metadata's filter_metadata.
func (d *decoder) metadata(f field) (*corev3.Metadata, error) {
	md := &corev3.Metadata{}
	it := d.fields(f, false)
	for it.next() {
		key, val, ok, err := d.entry(it.cur)
		if err != nil {
			return nil, err
		}
		s := &structpb.Struct{}
		if ok {
			if s, err = d.structValue(val, 1); err != nil {
				return nil, err
			}
		}
		if md.FilterMetadata == nil {
			md.FilterMetadata = make(map[string]*structpb.Struct, 2)
		}
		md.FilterMetadata[key] = s
	}
	return md, it.err
}

func (d *decoder) structValue(f field, depth int) (*structpb.Struct, error) {
	if f.typ != protowire.BytesType || depth > maxStructDepth {
		return nil, errUnhandled
	}
	s := &structpb.Struct{}
	it := d.fields(f, false)
	for it.next() {
		key, val, ok, err := d.entry(it.cur)
		if err != nil {
			return nil, err
		}
		v := &structpb.Value{}
		if ok {
			if v, err = d.value(val, depth); err != nil {
				return nil, err
			}
		}
		if s.Fields == nil {
			s.Fields = make(map[string]*structpb.Value)
		}
		s.Fields[key] = v
	}
	return s, it.err
}

func (d *decoder) value(f field, depth int) (*structpb.Value, error) {
	if f.typ != protowire.BytesType {
		return nil, errUnhandled
	}
	v := &structpb.Value{}
	it := d.fields(f, true)
	for it.next() {
		if v.Kind != nil { // a oneof set twice: proto keeps the last
			return nil, errUnhandled
		}
		g := it.cur
		switch {
		case g.num == 1 && g.typ == protowire.VarintType:
			v.Kind = &structpb.Value_NullValue{NullValue: structpb.NullValue(int32(g.v))}
		case g.num == 2 && g.typ == protowire.Fixed64Type:
			v.Kind = &structpb.Value_NumberValue{NumberValue: math.Float64frombits(g.v)}
		case g.num == 3:
			s, err := d.string(g)
			if err != nil {
				return nil, err
			}
			v.Kind = &structpb.Value_StringValue{StringValue: s}
		case g.num == 4 && g.typ == protowire.VarintType:
			v.Kind = &structpb.Value_BoolValue{BoolValue: g.v != 0}
		case g.num == 5:
			s, err := d.structValue(g, depth+1)
			if err != nil {
				return nil, err
			}
			v.Kind = &structpb.Value_StructValue{StructValue: s}
		case g.num == 6:
			l, err := d.list(g, depth+1)
			if err != nil {
				return nil, err
			}
			v.Kind = &structpb.Value_ListValue{ListValue: l}
		default:
			return nil, errUnhandled
		}
	}
	return v, it.err
}

func (d *decoder) list(f field, depth int) (*structpb.ListValue, error) {
	if f.typ != protowire.BytesType || depth > maxStructDepth {
		return nil, errUnhandled
	}
	l := &structpb.ListValue{}
	it := d.fields(f, false)
	for it.next() {
		if it.cur.num != 1 {
			return nil, errUnhandled
		}
		v, err := d.value(it.cur, depth)
		if err != nil {
			return nil, err
		}
		l.Values = append(l.Values, v)
	}
	return l, it.err
}
