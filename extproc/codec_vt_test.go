//go:build vtprotobuf

package extproc

import (
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestCodecMarshalGenerated: built as the Makefile builds (the vtprotobuf
// tag), answers take the generated marshaller, not the reflective one.
func TestCodecMarshalGenerated(t *testing.T) {
	var v any = &extprocv3.ProcessingResponse{}
	if _, ok := v.(vtMessage); !ok {
		t.Fatal("ProcessingResponse has no generated marshaller: is go-control-plane's vtprotobuf code still behind this tag?")
	}
	answer := continueRequestBody(nil, replaceBody([]byte(`{"model":"m"}`)), true)
	answer.DynamicMetadata, _ = structpb.NewStruct(map[string]any{"switchboard.request": map[string]any{"model": "m", "plan": "p|m", "stream": false}})
	allocs := testing.AllocsPerRun(100, func() {
		data, err := testCodec().Marshal(answer)
		if err != nil {
			t.Fatal(err)
		}
		data.Free()
	})
	// The reflective marshaller makes 11 for this answer (one per map
	// entry and value it sizes and writes), the generated one 3.
	if allocs > 3 {
		t.Errorf("Marshal allocates %.0f times; want the generated path's 3", allocs)
	}
}
