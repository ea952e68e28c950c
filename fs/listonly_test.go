package fs

import (
	"context"
	"errors"

	"github.com/ssecfs/ssecfs/bucket"
	"github.com/ssecfs/ssecfs/writeback"
)

// listOnly gives a fake store the methods that listing tests must never call.
type listOnly struct{}

var errNotInThisFake = errors.New("not implemented by this fake store")

func (listOnly) ListAll(context.Context, string, func([]bucket.Entry) error) error {
	return errNotInThisFake
}

func (listOnly) Put(context.Context, string, []byte, map[string]string, bucket.Condition) (string, error) {
	return "", errNotInThisFake
}

func (listOnly) StartUpload(context.Context, string, map[string]string) (writeback.Upload, error) {
	return nil, errNotInThisFake
}

func (listOnly) Copy(context.Context, string, string, int64, string, map[string]string, bucket.Condition) (string, error) {
	return "", errNotInThisFake
}

func (listOnly) Delete(context.Context, string) error { return errNotInThisFake }
