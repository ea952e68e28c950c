package bucket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/ssecfs/ssecfs/keysrc"
)

// Bucket is an S3 bucket opened with a keyring.
type Bucket struct {
	name     string
	endpoint string // "" for AWS
	region   string
	client   *s3.Client
	keys     []keysrc.Key
	log      *slog.Logger
	timeout  time.Duration
	attempts int

	// keyOf remembers which key opened which object (its index in keys, or plainObject),
	// so a keyring of several keys costs one request per object, not one per key.
	keyOf     *lru.Cache[string, int]
	plainOnce sync.Once
	// partCopyUnsupported is set once the server answers UploadPartCopy with 501.
	partCopyUnsupported atomic.Bool
	httpWarned          sync.Once
	uploads             UploadJournal // nil: not kept
}

// plainObject marks an object that is not SSE-C encrypted: it is read without a key.
const plainObject = -1

// keyMemory bounds how many objects' key choices are remembered.
const keyMemory = 1 << 16

// Open prepares a client for cfg.Bucket. It sends no request: Check does.
func Open(ctx context.Context, cfg Config) (*Bucket, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("no bucket name given")
	}
	if cfg.Keyring == nil || cfg.Keyring.Len() == 0 {
		return nil, errors.New("no SSE-C key given")
	}
	endpoint, err := resolveEndpoint(cfg.Endpoint, cfg.InsecureHTTP)
	if err != nil {
		return nil, err
	}
	httpClient, err := newHTTPClient(&cfg)
	if err != nil {
		return nil, err
	}
	// The loader keeps its own HTTP client for credential providers (STS, SSO): giving
	// it ours would make it fail whenever AWS_CA_BUNDLE is set. S3 gets ours below.
	opts := []func(*config.LoadOptions) error{
		// S3-compatible servers often reject the SDK's default CRC trailers.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = cfg.maxAttempts()
				o.Backoff = backoff{}
				// The default token bucket stops retrying after a burst of failures,
				// which turns a short server hiccup into errors for every open file.
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	observer := newRequestObserver(&cfg)
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if observer != nil {
			o.APIOptions = append(o.APIOptions, observer.register)
		}
		// Every S3 request goes through our client: https only, and AWS_CA_BUNDLE
		// and --ca-bundle added to the system roots rather than replacing them.
		o.HTTPClient = httpClient
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
	})
	keyOf, _ := lru.New[string, int](keyMemory)
	b := &Bucket{
		name:     cfg.Bucket,
		endpoint: endpoint,
		region:   awsCfg.Region,
		client:   client,
		keys:     cfg.Keyring.Keys(),
		log:      cfg.logger(),
		timeout:  cfg.requestTimeout(),
		attempts: cfg.maxAttempts(),
		keyOf:    keyOf,
		uploads:  cfg.Uploads,
	}
	if cfg.InsecureHTTP && (endpoint == "" || endpoint[:5] == "http:") {
		b.log.Warn("--insecure-http: SSE-C keys may cross the network in clear; treat any key sent over http as compromised")
	}
	return b, nil
}

// Where describes the endpoint for messages: the URL, or "AWS (REGION)".
func (b *Bucket) Where() string {
	if b.endpoint != "" {
		return b.endpoint
	}
	return "AWS S3 (" + b.region + ")"
}

func (b *Bucket) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.timeout)
}
