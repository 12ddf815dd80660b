package target

import (
	"testing"

	"github.com/switchboard-gw/switchboard/config"
)

// TestGatewayConfigs: both gateway configs load as switchboard reads them
// (strict decoding, validation), the governed one with its tenant, key
// and Redis limits.
func TestGatewayConfigs(t *testing.T) {
	for _, tc := range []struct {
		name string
		gov  *Governance
	}{
		{"plain", nil},
		{"governed", &Governance{RedisAddr: "127.0.0.1:6379"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse(tc.name+".yaml", gatewayYAML(9000, 9001, 9002, 9003, 9004, tc.gov), func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatal(err)
			}
			g := cfg.Governance
			switch {
			case tc.gov == nil && (len(g.Tenants) != 0 || len(g.Keys) != 0):
				t.Errorf("the plain gateway is governed: %+v", g)
			case tc.gov != nil && (len(g.Tenants) != 1 || len(g.Keys) != 1 || g.Limits.Kind != config.LimitsRedis || g.Limits.Address != tc.gov.RedisAddr):
				t.Errorf("governed gateway: tenants %d keys %d limits %+v", len(g.Tenants), len(g.Keys), g.Limits)
			}
		})
	}
}
