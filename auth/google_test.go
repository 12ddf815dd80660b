package auth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translators"
)

const googleTestEmail = "switchboard@acme-prod.iam.gserviceaccount.com"

var googleTestKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// googleTokenServer is a fake Google OAuth token endpoint: it checks the
// JWT-bearer grant a service account sends, signature included, and
// answers with numbered tokens.
type googleTokenServer struct {
	t         *testing.T
	srv       *httptest.Server
	expiresIn int
	// block, when set, holds each grant until it is closed.
	block chan struct{}
	// arrived receives a value as each grant arrives (never blocks).
	arrived chan struct{}

	mu     sync.Mutex
	grants int
	fail   string // an OAuth error code to answer with
}

func newGoogleTokenServer(t *testing.T, expiresIn int) *googleTokenServer {
	s := &googleTokenServer{t: t, expiresIn: expiresIn, arrived: make(chan struct{}, 16)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *googleTokenServer) serve(w http.ResponseWriter, r *http.Request) {
	select {
	case s.arrived <- struct{}{}:
	default:
	}
	if s.block != nil {
		<-s.block
	}
	if err := s.checkGrant(r); err != nil {
		s.t.Errorf("token request: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.grants++
	n, fail := s.grants, s.fail
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if fail != "" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":%q,"error_description":"Invalid JWT Signature."}`, fail)
		return
	}
	fmt.Fprintf(w, `{"access_token":"ya29.test-token-%d","expires_in":%d,"token_type":"Bearer"}`, n, s.expiresIn)
}

// checkGrant verifies the request is an RS256-signed JWT-bearer grant for
// the cloud-platform scope, addressed to this endpoint.
func (s *googleTokenServer) checkGrant(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	if g := r.PostForm.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		return fmt.Errorf("grant_type %q", g)
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		return fmt.Errorf("assertion is not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&googleTestKey().PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		return fmt.Errorf("JWT signature: %w", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	var claims struct {
		Iss, Scope, Aud string
		Exp, Iat        int64
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return err
	}
	if claims.Iss != googleTestEmail || claims.Scope != googleScope || claims.Aud != s.srv.URL+"/token" || claims.Exp <= claims.Iat {
		return fmt.Errorf("claims %+v", claims)
	}
	return nil
}

func (s *googleTokenServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grants
}

// writeGoogleKey writes a service account key file whose token_uri is the
// fake endpoint; edit changes its fields first.
func writeGoogleKey(t *testing.T, tokenURI string, edit func(map[string]any)) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(googleTestKey())
	if err != nil {
		t.Fatal(err)
	}
	key := map[string]any{
		"type":           "service_account",
		"project_id":     "acme-prod",
		"private_key_id": "1f2e3d4c5b6a79880716253443526170",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   googleTestEmail,
		"client_id":      "104729331215598312345",
		"auth_uri":       "https://accounts.google.com/o/oauth2/auth",
		"token_uri":      tokenURI,
	}
	if edit != nil {
		edit(key)
	}
	b, err := json.Marshal(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func vertexProvider(credentials string) *config.Provider {
	return &config.Provider{Name: "vertex", Schema: string(translators.SchemaVertexAI), Project: "acme-prod", Region: "us-central1", CredentialsFile: credentials}
}

// authorizeN authorizes n requests and returns their authorization headers.
func authorizeN(t *testing.T, a Authorizer, n int) []string {
	t.Helper()
	var got []string
	for range n {
		r := &translators.Request{Headers: []translators.Header{{Key: "content-type", Value: "application/json"}}}
		if err := a.Authorize(context.Background(), r, "us-central1-aiplatform.googleapis.com"); err != nil {
			t.Fatal(err)
		}
		if len(r.Headers) != 2 || r.Headers[0].Key != "content-type" || r.Headers[1].Key != "authorization" {
			t.Fatalf("headers %v", r.Headers)
		}
		got = append(got, r.Headers[1].Value)
	}
	return got
}

func TestGoogleOAuthCachesToken(t *testing.T) {
	ts := newGoogleTokenServer(t, 3600)
	a, err := For(context.Background(), vertexProvider(writeGoogleKey(t, ts.srv.URL+"/token", nil)))
	if err != nil {
		t.Fatal(err)
	}
	got := authorizeN(t, a, 3)
	for _, h := range got {
		if h != "Bearer ya29.test-token-1" {
			t.Errorf("authorization %q, want the first token reused", h)
		}
	}
	if n := ts.count(); n != 1 {
		t.Errorf("%d token grants, want 1", n)
	}
}

// TestGoogleOAuthRefreshesBeforeExpiry: a token that expires within the
// early-refresh window (5 minutes) is replaced before it is used again.
func TestGoogleOAuthRefreshesBeforeExpiry(t *testing.T) {
	ts := newGoogleTokenServer(t, 120)
	a, err := For(context.Background(), vertexProvider(writeGoogleKey(t, ts.srv.URL+"/token", nil)))
	if err != nil {
		t.Fatal(err)
	}
	got := authorizeN(t, a, 3)
	want := []string{"Bearer ya29.test-token-1", "Bearer ya29.test-token-2", "Bearer ya29.test-token-3"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("authorizations %q, want %q", got, want)
	}
}

func TestGoogleOAuthConcurrentRequestsShareOneGrant(t *testing.T) {
	ts := newGoogleTokenServer(t, 3600)
	a, err := For(context.Background(), vertexProvider(writeGoogleKey(t, ts.srv.URL+"/token", nil)))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			r := &translators.Request{}
			if err := a.Authorize(context.Background(), r, "h"); err != nil || r.Headers[0].Value != "Bearer ya29.test-token-1" {
				t.Errorf("authorize: %v %v", err, r.Headers)
			}
		})
	}
	wg.Wait()
	if n := ts.count(); n != 1 {
		t.Errorf("%d token grants, want 1", n)
	}
}

func TestGoogleOAuthApplicationDefaultCredentials(t *testing.T) {
	ts := newGoogleTokenServer(t, 3600)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", writeGoogleKey(t, ts.srv.URL+"/token", nil))
	a, err := For(context.Background(), vertexProvider(""))
	if err != nil {
		t.Fatal(err)
	}
	if got := authorizeN(t, a, 2); got[1] != "Bearer ya29.test-token-1" {
		t.Errorf("authorizations %q", got)
	}
}

// TestGoogleOAuthOutlivesItsContext: the authorizer is built during one
// request; its token source must keep working after that request ends.
func TestGoogleOAuthOutlivesItsContext(t *testing.T) {
	ts := newGoogleTokenServer(t, 120)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := For(ctx, vertexProvider(writeGoogleKey(t, ts.srv.URL+"/token", nil)))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if got := authorizeN(t, a, 2); got[1] != "Bearer ya29.test-token-2" {
		t.Errorf("authorizations %q", got)
	}
}

// TestGoogleOAuthHonoursContext: a caller whose context ends stops waiting
// for a slow token endpoint; the grant still completes for the next one.
func TestGoogleOAuthHonoursContext(t *testing.T) {
	ts := newGoogleTokenServer(t, 3600)
	ts.block = make(chan struct{})
	a, err := For(context.Background(), vertexProvider(writeGoogleKey(t, ts.srv.URL+"/token", nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- a.Authorize(ctx, &translators.Request{}, "h") }()
	<-ts.arrived // the grant is in flight
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	close(ts.block)
	if got := authorizeN(t, a, 1); got[0] != "Bearer ya29.test-token-1" {
		t.Errorf("authorization %q", got)
	}
	if n := ts.count(); n != 1 {
		t.Errorf("%d token grants, want 1", n)
	}
}

func TestGoogleOAuthTokenEndpointError(t *testing.T) {
	ts := newGoogleTokenServer(t, 3600)
	ts.fail = "invalid_grant"
	a, err := For(context.Background(), vertexProvider(writeGoogleKey(t, ts.srv.URL+"/token", nil)))
	if err != nil {
		t.Fatal(err)
	}
	err = a.Authorize(context.Background(), &translators.Request{}, "h")
	if err == nil || !strings.Contains(err.Error(), "google access token") || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("error %v, want the OAuth error", err)
	}
}

func TestGoogleOAuthBrokenKeyFile(t *testing.T) {
	const uri = "http://127.0.0.1:1/token" // never called: construction fails first
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		wantErr string
	}{
		{"missing file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope.json") }, "no such file or directory"},
		{"not JSON", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "sa.json")
			if err := os.WriteFile(p, []byte("-----BEGIN PRIVATE KEY-----"), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, "not a service account key file"},
		{"user credentials", func(t *testing.T) string {
			return writeGoogleKey(t, uri, func(m map[string]any) { m["type"] = "authorized_user" })
		}, `type is "authorized_user", want "service_account"`},
		{"no client_email", func(t *testing.T) string {
			return writeGoogleKey(t, uri, func(m map[string]any) { delete(m, "client_email") })
		}, "client_email is empty"},
		{"key not PEM", func(t *testing.T) string {
			return writeGoogleKey(t, uri, func(m map[string]any) { m["private_key"] = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" })
		}, "private_key is not a PEM block"},
		{"key truncated", func(t *testing.T) string {
			return writeGoogleKey(t, uri, func(m map[string]any) {
				m["private_key"] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("truncated")}))
			})
		}, "private_key does not parse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path(t)
			a, err := For(context.Background(), vertexProvider(path))
			if err == nil {
				t.Fatalf("authorizer %v, want an error", a)
			}
			if !strings.HasPrefix(err.Error(), "auth: provider vertex: google credentials_file") || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want it to name the file and contain %q", err, tc.wantErr)
			}
		})
	}
}
