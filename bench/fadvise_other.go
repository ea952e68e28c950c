//go:build !linux

package main

import "os"

// fadviseRandom does nothing outside Linux (the bench needs Linux's FUSE and /proc anyway).
func fadviseRandom(*os.File) {}
