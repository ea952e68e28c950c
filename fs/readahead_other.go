//go:build !linux

package fs

func raiseKernelReadAhead(string) error { return nil }
