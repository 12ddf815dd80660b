package demo

import (
	"testing"

	"go.uber.org/goleak"
)

// Nothing the package starts may outlive its test: hanging handlers and
// streams must end when the client or the server goes away.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
