package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translators"
)

// bedrockSigningName is the SigV4 service name of the Bedrock runtime.
const bedrockSigningName = "bedrock"

// sigV4 signs Bedrock requests with AWS Signature Version 4.
type sigV4 struct {
	creds  aws.CredentialsProvider
	region string
	signer *v4.Signer
	now    func() time.Time
}

// newSigV4 takes credentials from the AWS default chain: the
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN variables,
// the shared config and credentials files (AWS_PROFILE), web identity, SSO,
// ECS and EC2 instance roles. Nothing is fetched here: the chain runs on
// the first request, and its credentials are cached and refreshed before
// they expire.
func newSigV4(ctx context.Context, p *config.Provider) (Authorizer, error) {
	if p.Region == "" {
		return nil, errors.New("sigv4: no AWS region")
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(p.Region))
	if err != nil {
		return nil, fmt.Errorf("sigv4: load AWS config: %w", err)
	}
	if cfg.Credentials == nil {
		return nil, errors.New("sigv4: the AWS config has no credentials provider")
	}
	return newSigV4With(cfg.Credentials, p.Region, time.Now), nil
}

func newSigV4With(creds aws.CredentialsProvider, region string, now func() time.Time) *sigV4 {
	return &sigV4{creds: creds, region: region, signer: v4.NewSigner(), now: now}
}

// Authorize signs r for host. The signature covers the method, the path
// and query, the host, the translator's headers, the date and the SHA-256
// of the body, which is sent as X-Amz-Content-Sha256.
func (s *sigV4) Authorize(ctx context.Context, r *translators.Request, host string) error {
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("sigv4: retrieve AWS credentials: %w", err)
	}
	sum := sha256.Sum256(r.Body)
	payloadHash := hex.EncodeToString(sum[:])

	// The path is already escaped (a model id's ':' is %3A); parsing keeps
	// that form as RawPath, which the signer escapes once more, as SigV4
	// wants for every service but S3.
	u, err := url.Parse("https://" + host + r.Path)
	if err != nil {
		return fmt.Errorf("sigv4: request path %q: %w", r.Path, err)
	}
	req := &http.Request{Method: http.MethodPost, URL: u, Host: host, Header: http.Header{}}
	for _, h := range r.Headers {
		if !strings.EqualFold(h.Key, "authorization") {
			req.Header.Add(h.Key, h.Value)
		}
	}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if err := s.signer.SignHTTP(ctx, creds, req, payloadHash, bedrockSigningName, s.region, s.now()); err != nil {
		return fmt.Errorf("sigv4: sign: %w", err)
	}
	for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"} {
		if v := req.Header.Get(k); v != "" {
			setHeader(r, strings.ToLower(k), v)
		}
	}
	return nil
}

// setHeader replaces every header named k (in any case) with one value.
func setHeader(r *translators.Request, k, v string) {
	out := r.Headers[:0:0]
	for _, h := range r.Headers {
		if !strings.EqualFold(h.Key, k) {
			out = append(out, h)
		}
	}
	r.Headers = append(out, translators.Header{Key: k, Value: v})
}

var _ Authorizer = (*sigV4)(nil)
