package bucket

import (
	"errors"
	"fmt"
	"net"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// Kinds of failure the filesystem tells apart. Test with errors.Is.
var (
	// ErrNotFound: the object or bucket does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrAccessDenied: S3 refused every key of the keyring, or the credentials (403).
	ErrAccessDenied = errors.New("access denied")
	// ErrChanged: the object changed since it was opened (412 on If-Match).
	ErrChanged = errors.New("object changed since it was opened")
)

// Error is a failed request on one object. Its text names the operation, the object and
// the fingerprints of the keys tried, never a key.
type Error struct {
	Op           string   // GetObject, HeadObject, ListObjectsV2, ...
	Object       string   // object key or prefix
	Fingerprints []string // keys tried, by fingerprint
	Kind         error    // ErrNotFound, ErrAccessDenied, ErrChanged, or nil
	Err          error    // what the SDK said
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q: %s", e.Op, e.Object, describe(e.Err))
	if len(e.Fingerprints) > 0 {
		fmt.Fprintf(&b, " (keys tried: %s)", strings.Join(e.Fingerprints, ", "))
	}
	return b.String()
}

func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// statusCode is the HTTP status of a failed SDK call, or 0 if it never got an answer.
func statusCode(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// errorCode is the S3 error code ("NoSuchKey", "AccessDenied", ...), or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// kindOf classifies an SDK error.
func kindOf(err error) error {
	switch status, code := statusCode(err), errorCode(err); {
	case status == 404 || code == "NoSuchKey" || code == "NotFound" || code == "NoSuchBucket":
		return ErrNotFound
	case status == 403:
		return ErrAccessDenied
	case status == 412 || code == "PreconditionFailed":
		return ErrChanged
	}
	return nil
}

// describe renders an SDK error briefly: the S3 code and message when there was an answer,
// the network error otherwise. The SDK's own text repeats the operation and request IDs,
// which make log lines long without helping.
func describe(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg := ae.ErrorMessage()
		if status := statusCode(err); status != 0 {
			if msg == "" {
				return fmt.Sprintf("%d %s", status, ae.ErrorCode())
			}
			return fmt.Sprintf("%d %s: %s", status, ae.ErrorCode(), msg)
		}
		return fmt.Sprintf("%s: %s", ae.ErrorCode(), msg)
	}
	var ne net.Error
	var oe *smithy.OperationError
	if errors.As(err, &oe) && errors.As(err, &ne) {
		return ne.Error()
	}
	if errors.As(err, &oe) {
		return oe.Err.Error()
	}
	return err.Error()
}
