package bucket

import (
	"context"
	"errors"
	"io"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Every request the bucket sends is reported, once, to Config.Observer: metrics, the
// audit log of key usage and the debug log of requests all watch this one place. It is
// a middleware of the S3 client (installed by Open), so no request can go out without
// it, whichever method sent it: a keyed GET, a listing, the abort of a lost upload.
//
// A request is one call of the SDK: its retries (a 5xx, a broken connection before the
// answer) are in the same event, counted in Retries. The tries of several keys for one
// object (a 403, then the next key of the keyring) are separate requests, each with its
// own key and outcome, and so are the resumed GETs of a body that broke off.

// RequestEvent describes one S3 request, after its retries. It never holds a key or
// object data: a key is named by its fingerprint.
type RequestEvent struct {
	// Op is the S3 operation: GetObject, HeadObject, PutObject, ListObjectsV2, ...
	Op string
	// Object is the object key the request names, the prefix of a listing, "" for a
	// request on the bucket itself. For a copy it is the destination.
	Object string
	// Source is the source object of a copy (CopyObject, UploadPartCopy), else "".
	Source string
	// Outcome is "ok" or the kind of failure (see Outcome), a small fixed set fit for a
	// metric label.
	Outcome string
	// Status is the HTTP status of the last answer; 0 when none came.
	Status int
	// BytesIn is the object data received: for GetObject, the body bytes read before
	// the body was closed. BytesOut is the object data sent (PutObject and UploadPart
	// bodies, once however many tries). Listings and other XML bodies do not count.
	BytesIn, BytesOut int64
	// Start is when the request was sent. Duration runs until its answer, or, for a
	// GetObject that answered, until its body was closed: the event of a GET is
	// reported at that close, so that its bytes are known.
	Start    time.Time
	Duration time.Duration
	// Retries is how many times the SDK sent the request again (0: it went once).
	Retries int
	// KeyFingerprint is the fingerprint of the SSE-C key the request carried for
	// Object, "" for a request without a key (listings, deletes, aborts, an object
	// that is not SSE-C encrypted). SourceKeyFingerprint is the key of a copy's
	// source (the copy-source SSE-C headers), else "".
	KeyFingerprint, SourceKeyFingerprint string
	// KeyFallback is set when the key that opens the object read (the source's for a
	// copy) is not the current key of the keyring but an older one.
	KeyFallback bool
	// Caller is the process whose file operation caused the request (see WithCaller),
	// nil when unknown: read-ahead, streamed parts and other work of the mount itself.
	Caller *Caller
}

// Keyed reports whether the request carried an SSE-C key.
func (e RequestEvent) Keyed() bool { return e.KeyFingerprint != "" || e.SourceKeyFingerprint != "" }

// Outcomes of a request (RequestEvent.Outcome).
const (
	OutcomeOK             = "ok"
	OutcomeNotFound       = "not_found"       // 404
	OutcomeAccessDenied   = "access_denied"   // 403: the key is not the object's, or the credentials
	OutcomeChanged        = "changed"         // 412: a condition (If-Match, If-None-Match) failed
	OutcomeNotImplemented = "not_implemented" // 501
	OutcomeClientError    = "client_error"    // any other 4xx
	OutcomeServerError    = "server_error"    // 5xx, after retries
	OutcomeTimeout        = "timeout"         // the request's time ran out
	OutcomeCanceled       = "canceled"        // the caller gave up
	OutcomeNetworkError   = "network_error"   // no answer: refused, reset, TLS; or a body that broke off
)

// Outcome classifies the error of a request into one of the Outcome constants.
func Outcome(err error) string {
	if err == nil {
		return OutcomeOK
	}
	switch status := statusCode(err); {
	case status == 0:
	case status == 404:
		return OutcomeNotFound
	case status == 403:
		return OutcomeAccessDenied
	case status == 412:
		return OutcomeChanged
	case status == 501:
		return OutcomeNotImplemented
	case status >= 500:
		return OutcomeServerError
	default:
		return OutcomeClientError
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return OutcomeTimeout
	case errors.Is(err, context.Canceled):
		return OutcomeCanceled
	}
	return OutcomeNetworkError
}

// Observer is told of every request a Bucket sends (Config.Observer). ObserveRequest is
// called once per request, synchronously, from the goroutine that sent it (or closed
// its body): it must be quick, and safe for concurrent use.
type Observer interface {
	ObserveRequest(RequestEvent)
}

// ObserverFunc is a function as an Observer.
type ObserverFunc func(RequestEvent)

// ObserveRequest calls f.
func (f ObserverFunc) ObserveRequest(e RequestEvent) { f(e) }

// Observers tells each of obs of every request, in order. Nil interfaces are left out;
// it returns nil when none is left.
func Observers(obs ...Observer) Observer {
	var all multiObserver
	for _, o := range obs {
		if o != nil {
			all = append(all, o)
		}
	}
	switch len(all) {
	case 0:
		return nil
	case 1:
		return all[0]
	}
	return all
}

type multiObserver []Observer

func (m multiObserver) ObserveRequest(e RequestEvent) {
	for _, o := range m {
		o.ObserveRequest(e)
	}
}

// Caller is the process on whose behalf a request is sent: the uid, gid and pid of a
// FUSE request.
type Caller struct {
	UID, GID, PID uint32
}

type callerKey struct{}

// WithCaller marks ctx as working for c: the requests sent with it (or a context
// derived from it) report c. It wins over Config.CallerOf.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller WithCaller put in ctx.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// requestObserver is the middleware that reports each request.
type requestObserver struct {
	obs      Observer
	callerOf func(context.Context) (Caller, bool)
	current  string // fingerprint of the current key
}

// newRequestObserver returns nil when cfg asks for no observer.
func newRequestObserver(cfg *Config) *requestObserver {
	if cfg.Observer == nil {
		return nil
	}
	r := &requestObserver{obs: cfg.Observer, callerOf: cfg.CallerOf}
	if keys := cfg.Keyring.Keys(); len(keys) > 0 {
		r.current = keys[0].Fingerprint()
	}
	return r
}

// register installs the middleware on an operation's stack: last of the initialize
// step, where the operation's name is known, and outside the retry loop (finalize).
func (r *requestObserver) register(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("ssecfsObserve", r.handle), middleware.After)
}

func (r *requestObserver) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
	middleware.InitializeOutput, middleware.Metadata, error,
) {
	ev := r.describe(ctx, in.Parameters)
	out, md, err := next.HandleInitialize(ctx, in)
	if rs, ok := retry.GetAttemptResults(md); ok && len(rs.Results) > 1 {
		ev.Retries = len(rs.Results) - 1
	}
	ev.Status = statusCode(err)
	if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && err == nil {
		ev.Status = raw.StatusCode
	}
	ev.Outcome = Outcome(err)
	if get, ok := out.Result.(*s3.GetObjectOutput); ok && err == nil && get.Body != nil {
		// Reported when the body is closed, with the bytes read from it.
		get.Body = &observedBody{ReadCloser: get.Body, r: r, ev: ev}
		return out, md, err
	}
	r.report(ev)
	return out, md, err
}

func (r *requestObserver) report(ev RequestEvent) {
	ev.Duration = time.Since(ev.Start)
	r.obs.ObserveRequest(ev)
}

// describe reads what an event says of a request from its input: every S3 input names
// its object in Key (or a listing's prefix in Prefix) and its keys' fingerprints in
// SSECustomerKeyMD5 and CopySourceSSECustomerKeyMD5. It reads fields by name, so that
// an operation added later is described without a change here. The key itself
// (SSECustomerKey) is never read.
func (r *requestObserver) describe(ctx context.Context, params any) RequestEvent {
	ev := RequestEvent{Op: awsmiddleware.GetOperationName(ctx), Start: time.Now()}
	v := reflect.ValueOf(params)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		if ev.Op == "" {
			ev.Op = strings.TrimSuffix(v.Type().Name(), "Input")
		}
		ev.Object = stringField(v, "Key")
		if ev.Object == "" {
			ev.Object = stringField(v, "Prefix")
		}
		ev.Source = sourceKey(stringField(v, "CopySource"))
		ev.KeyFingerprint = stringField(v, "SSECustomerKeyMD5")
		ev.SourceKeyFingerprint = stringField(v, "CopySourceSSECustomerKeyMD5")
		if f := v.FieldByName("ContentLength"); f.IsValid() && f.Type() == reflect.TypeFor[*int64]() && !f.IsNil() {
			ev.BytesOut = f.Elem().Int()
		}
	}
	reads := ev.KeyFingerprint
	if ev.Source != "" {
		reads = ev.SourceKeyFingerprint
	}
	ev.KeyFallback = reads != "" && reads != r.current
	if c, ok := CallerFrom(ctx); ok {
		ev.Caller = &c
	} else if r.callerOf != nil {
		if c, ok := r.callerOf(ctx); ok {
			ev.Caller = &c
		}
	}
	return ev
}

// stringField is the value of v's field name if it is a *string, else "".
func stringField(v reflect.Value, name string) string {
	f := v.FieldByName(name)
	if !f.IsValid() || f.Type() != reflect.TypeFor[*string]() || f.IsNil() {
		return ""
	}
	return f.Elem().String()
}

// sourceKey is the object key of an x-amz-copy-source value ("bucket/key", escaped).
func sourceKey(copySource string) string {
	if copySource == "" {
		return ""
	}
	_, key, _ := strings.Cut(strings.TrimPrefix(copySource, "/"), "/")
	if k, err := url.PathUnescape(key); err == nil {
		return k
	}
	return key
}

// observedBody counts the bytes read from a GET's body and reports the request when
// the body is closed (bucket.readBody always closes it).
type observedBody struct {
	io.ReadCloser
	r    *requestObserver
	ev   RequestEvent
	once sync.Once
	// n and err are touched only by the reader of the body, then by Close.
	n   int64
	err error
}

func (b *observedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *observedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() {
		ev := b.ev
		ev.BytesIn = b.n
		if b.err != nil {
			ev.Outcome = Outcome(b.err)
			if ev.Outcome != OutcomeTimeout && ev.Outcome != OutcomeCanceled {
				ev.Outcome = OutcomeNetworkError
			}
		}
		b.r.report(ev)
	})
	return err
}
