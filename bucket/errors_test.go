package bucket

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// sdkError builds what the SDK returns for an S3 error answer.
func sdkError(op string, status int, code, msg string) error {
	return &smithy.OperationError{
		ServiceID:     "S3",
		OperationName: op,
		Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
				Err:      &smithy.GenericAPIError{Code: code, Message: msg},
			},
			RequestID: "REQ123",
		},
	}
}

func TestErrorText(t *testing.T) {
	e := &Error{
		Op:           opGet,
		Object:       "dir/some file.txt",
		Fingerprints: []string{"fp1==", "fp2=="},
		Kind:         ErrAccessDenied,
		Err:          sdkError(opGet, 403, "AccessDenied", "Access Denied"),
	}
	got := e.Error()
	for _, want := range []string{"GetObject", `"dir/some file.txt"`, "403 AccessDenied: Access Denied", "keys tried: fp1==, fp2=="} {
		if !strings.Contains(got, want) {
			t.Errorf("Error() = %q, want it to contain %q", got, want)
		}
	}
	if !strings.HasPrefix(got, `GetObject "dir/some file.txt": `) {
		t.Errorf("Error() = %q, want it to start with the op and the quoted object", got)
	}
	// The SDK's request IDs are left out.
	if strings.Contains(got, "REQ123") || strings.Contains(got, "operation error") {
		t.Errorf("Error() = %q repeats the SDK's wrapping", got)
	}

	plain := (&Error{Op: opList, Object: "p/", Err: errors.New("boom")}).Error()
	if plain != `ListObjectsV2 "p/": boom` {
		t.Errorf("Error() without fingerprints = %q", plain)
	}
	quoted := (&Error{Op: opHead, Object: "new\nline", Err: errors.New("x")}).Error()
	if strings.Contains(quoted, "\n") {
		t.Errorf("Error() = %q: the object name is not quoted", quoted)
	}
}

func TestErrorUnwrap(t *testing.T) {
	cause := errors.New("cause")
	for _, kind := range []error{ErrNotFound, ErrAccessDenied, ErrChanged} {
		e := fmt.Errorf("outer: %w", &Error{Op: opHead, Object: "k", Kind: kind, Err: cause})
		if !errors.Is(e, kind) {
			t.Errorf("errors.Is(err, %v) = false", kind)
		}
		if !errors.Is(e, cause) {
			t.Errorf("kind %v: errors.Is(err, cause) = false", kind)
		}
		for _, other := range []error{ErrNotFound, ErrAccessDenied, ErrChanged} {
			if other != kind && errors.Is(e, other) {
				t.Errorf("kind %v also matches %v", kind, other)
			}
		}
		var be *Error
		if !errors.As(e, &be) || be.Object != "k" {
			t.Errorf("errors.As did not find the *Error")
		}
	}
	// No kind: only the cause.
	e := &Error{Op: opHead, Object: "k", Err: context.DeadlineExceeded}
	if !errors.Is(e, context.DeadlineExceeded) {
		t.Errorf("cause not matched without a Kind")
	}
	for _, k := range []error{ErrNotFound, ErrAccessDenied, ErrChanged} {
		if errors.Is(e, k) {
			t.Errorf("error without a Kind matches %v", k)
		}
	}
	// The SDK's error stays reachable.
	e = &Error{Op: opGet, Object: "k", Kind: ErrNotFound, Err: sdkError(opGet, 404, "NoSuchKey", "nope")}
	var ae smithy.APIError
	if !errors.As(e, &ae) || ae.ErrorCode() != "NoSuchKey" {
		t.Errorf("errors.As(APIError) failed on %v", e)
	}
}

func TestKindOf(t *testing.T) {
	cases := []struct {
		err  error
		want error
	}{
		{sdkError(opGet, 404, "NoSuchKey", ""), ErrNotFound},
		{sdkError(opHead, 404, "NotFound", ""), ErrNotFound},
		{sdkError(opList, 404, "NoSuchBucket", ""), ErrNotFound},
		{sdkError(opGet, 403, "AccessDenied", ""), ErrAccessDenied},
		{sdkError(opHead, 403, "Forbidden", ""), ErrAccessDenied},
		{sdkError(opGet, 412, "PreconditionFailed", ""), ErrChanged},
		{sdkError(opGet, 400, "InvalidRequest", ""), nil},
		{sdkError(opGet, 500, "InternalError", ""), nil},
		{errors.New("network down"), nil},
		{&smithy.GenericAPIError{Code: "NoSuchKey"}, ErrNotFound}, // code without a status
	}
	for _, tc := range cases {
		if got := kindOf(tc.err); got != tc.want {
			t.Errorf("kindOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestStatusAndCode(t *testing.T) {
	err := sdkError(opGet, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	if statusCode(err) != 412 || errorCode(err) != "PreconditionFailed" {
		t.Errorf("statusCode, errorCode = %d, %q", statusCode(err), errorCode(err))
	}
	if statusCode(errors.New("x")) != 0 || errorCode(errors.New("x")) != "" {
		t.Errorf("a non-SDK error has a status or code")
	}
}

func TestDescribe(t *testing.T) {
	netErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	cases := []struct {
		err  error
		want string
	}{
		{sdkError(opGet, 403, "AccessDenied", "Access Denied"), "403 AccessDenied: Access Denied"},
		{sdkError(opHead, 400, "BadRequest", ""), "400 BadRequest"},
		{&smithy.GenericAPIError{Code: "X", Message: "y"}, "X: y"},
		{&smithy.OperationError{ServiceID: "S3", OperationName: opGet, Err: netErr}, netErr.Error()},
		{&smithy.OperationError{ServiceID: "S3", OperationName: opGet, Err: errors.New("inner")}, "inner"},
		{errors.New("bare"), "bare"},
	}
	for _, tc := range cases {
		if got := describe(tc.err); got != tc.want {
			t.Errorf("describe(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
