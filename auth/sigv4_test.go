package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translators"
)

var signTime = time.Date(2025, 11, 12, 9, 14, 3, 0, time.UTC)

func bedrockRequest(path string) *translators.Request {
	return &translators.Request{
		Path:    path,
		Headers: []translators.Header{{Key: "content-type", Value: "application/json"}},
		Body:    []byte(`{"messages":[{"role":"user","content":[{"text":"Hello"}]}],"inferenceConfig":{"maxTokens":512}}`),
	}
}

func header(r *translators.Request, k string) (string, int) {
	v, n := "", 0
	for _, h := range r.Headers {
		if strings.EqualFold(h.Key, k) {
			v, n = h.Value, n+1
		}
	}
	return v, n
}

// referenceSignature computes a SigV4 Authorization header from the spec
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html),
// independently of the SDK. canonicalURI is the path as signed: each
// segment URI-encoded once more.
func referenceSignature(akid, secret, region, host, canonicalURI string, headers map[string]string, body []byte, at time.Time) string {
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	headers["host"] = host
	names := make([]string, 0, len(headers))
	for k := range headers {
		names = append(names, k)
	}
	sort.Strings(names)
	var canon strings.Builder
	for _, k := range names {
		canon.WriteString(k + ":" + strings.TrimSpace(headers[k]) + "\n")
	}
	signed := strings.Join(names, ";")
	creq := "POST\n" + canonicalURI + "\n\n" + canon.String() + "\n" + signed + "\n" + payload
	day := at.Format("20060102")
	scope := day + "/" + region + "/bedrock/aws4_request"
	h := sha256.Sum256([]byte(creq))
	sts := "AWS4-HMAC-SHA256\n" + at.Format("20060102T150405Z") + "\n" + scope + "\n" + hex.EncodeToString(h[:])
	mac := func(key []byte, s string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	key := mac(mac(mac(mac([]byte("AWS4"+secret), day), region), "bedrock"), "aws4_request")
	return "AWS4-HMAC-SHA256 Credential=" + akid + "/" + scope + ", SignedHeaders=" + signed + ", Signature=" + hex.EncodeToString(mac(key, sts))
}

func TestSigV4Authorize(t *testing.T) {
	const (
		akid   = "AKIAIOSFODNN7EXAMPLE"
		secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
		token  = "IQoJb3JpZ2luX2VjEXAMPLETOKEN"
	)
	tests := []struct {
		name         string
		token        string
		host         string
		path         string
		canonicalURI string
	}{
		{
			name: "inference profile with session token", token: token,
			host:         "bedrock-runtime.us-east-1.amazonaws.com",
			path:         "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse",
			canonicalURI: "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%253A0/converse",
		},
		{
			name:         "ARN without token on a custom port",
			host:         "127.0.0.1:9443",
			path:         "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.amazon.nova-pro-v1%3A0/converse-stream",
			canonicalURI: "/model/arn%253Aaws%253Abedrock%253Aus-east-1%253A123456789012%253Ainference-profile%252Fus.amazon.nova-pro-v1%253A0/converse-stream",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSigV4With(credentials.NewStaticCredentialsProvider(akid, secret, tc.token), "us-east-1", func() time.Time { return signTime })
			r := bedrockRequest(tc.path)
			body := string(r.Body)
			if err := s.Authorize(context.Background(), r, tc.host); err != nil {
				t.Fatal(err)
			}
			if string(r.Body) != body || r.Path != tc.path {
				t.Fatal("Authorize changed the body or the path")
			}
			sum := sha256.Sum256(r.Body)
			want := map[string]string{
				"content-type":         "application/json",
				"x-amz-date":           "20251112T091403Z",
				"x-amz-content-sha256": hex.EncodeToString(sum[:]),
			}
			if tc.token != "" {
				want["x-amz-security-token"] = tc.token
			}
			for k, v := range want {
				if got, n := header(r, k); got != v || n != 1 {
					t.Errorf("header %s = %q (%d times), want %q once", k, got, n, v)
				}
			}
			if _, n := header(r, "x-amz-security-token"); tc.token == "" && n != 0 {
				t.Error("x-amz-security-token set without a session token")
			}
			signedHeaders := map[string]string{}
			for k, v := range want {
				signedHeaders[k] = v
			}
			wantAuth := referenceSignature(akid, secret, "us-east-1", tc.host, tc.canonicalURI, signedHeaders, r.Body, signTime)
			if got, _ := header(r, "authorization"); got != wantAuth {
				t.Errorf("authorization\n got %s\nwant %s", got, wantAuth)
			}
			if got, _ := header(r, "authorization"); !regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20251112/us-east-1/bedrock/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`).MatchString(got) {
				t.Errorf("authorization %q has not the SigV4 shape", got)
			}

			// The SDK's signer on the http.Request a client would send
			// agrees.
			u, _ := url.Parse("https://" + tc.host + tc.path)
			hr := &http.Request{Method: "POST", URL: u, Host: tc.host, Header: http.Header{}}
			hr.Header.Set("Content-Type", "application/json")
			hr.Header.Set("X-Amz-Content-Sha256", want["x-amz-content-sha256"])
			creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: tc.token}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, hr, want["x-amz-content-sha256"], "bedrock", "us-east-1", signTime); err != nil {
				t.Fatal(err)
			}
			if got, _ := header(r, "authorization"); got != hr.Header.Get("Authorization") {
				t.Errorf("SDK signer gives %s", hr.Header.Get("Authorization"))
			}
		})
	}
}

// TestSigV4ReplacesHeaders checks a second signing (a retry of the same
// request) leaves one copy of each header, and a bearer header a
// translator set is not signed.
func TestSigV4ReplacesHeaders(t *testing.T) {
	s := newSigV4With(credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), "eu-west-1", func() time.Time { return signTime })
	r := bedrockRequest("/model/m/converse")
	r.Headers = append(r.Headers, translators.Header{Key: "Authorization", Value: "Bearer stale"})
	for i := 0; i < 2; i++ {
		if err := s.Authorize(context.Background(), r, "bedrock-runtime.eu-west-1.amazonaws.com"); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"authorization", "x-amz-date", "x-amz-content-sha256", "content-type"} {
		if _, n := header(r, k); n != 1 {
			t.Errorf("%s appears %d times: %v", k, n, r.Headers)
		}
	}
	if got, _ := header(r, "authorization"); !strings.Contains(got, "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date,") {
		t.Errorf("authorization %q", got)
	}
}

func TestSigV4CredentialErrors(t *testing.T) {
	failing := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no EC2 IMDS role found")
	})
	s := newSigV4With(failing, "us-east-1", time.Now)
	err := s.Authorize(context.Background(), bedrockRequest("/model/m/converse"), "h")
	if err == nil || err.Error() != "sigv4: retrieve AWS credentials: no EC2 IMDS role found" {
		t.Fatalf("err = %v", err)
	}
}

// TestSigV4DefaultChain builds the authorizer the way the gateway does,
// with credentials from the environment.
func TestSigV4DefaultChain(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
	t.Setenv("AWS_SESSION_TOKEN", "TOKEN")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	a, err := For(context.Background(), &config.Provider{Name: "bedrock", Schema: "bedrock", Region: "ap-northeast-1"})
	if err != nil {
		t.Fatal(err)
	}
	if a == nil {
		t.Fatal("no authorizer for a keyless bedrock provider")
	}
	r := bedrockRequest("/model/m/converse")
	if err := a.Authorize(context.Background(), r, "bedrock-runtime.ap-northeast-1.amazonaws.com"); err != nil {
		t.Fatal(err)
	}
	if got, _ := header(r, "authorization"); !strings.HasPrefix(got, "AWS4-HMAC-SHA256 Credential=AKID/") || !strings.Contains(got, "/ap-northeast-1/bedrock/aws4_request") {
		t.Errorf("authorization %q", got)
	}
	if got, _ := header(r, "x-amz-security-token"); got != "TOKEN" {
		t.Errorf("x-amz-security-token %q", got)
	}

	if _, err := newSigV4(context.Background(), &config.Provider{Name: "b", Schema: "bedrock"}); err == nil || err.Error() != "sigv4: no AWS region" {
		t.Errorf("no region: err = %v", err)
	}
}
