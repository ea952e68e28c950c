package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// The SDK ceiling's cold sequential read runs in a child process of its own (this program, run again with childArg),
// so that the CPU it uses is measured as the mount's is: the process's own user and system time over the read,
// nothing else (the bench's own goroutines, its load monitor and its checks are not in it). The child is told what to
// read on its standard input (the server's credentials are there, never in its arguments) and answers on its output.

const childArg = "-ceiling-read-child"

type childRequest struct {
	Server      s3Endpoint
	KeyFile     string
	Bucket, Key string
	Size        int64
	RangeSize   int64
	Concurrency int
	Proto       string
}

type childResult struct {
	Bytes      int64
	Seconds    float64
	CPUSeconds float64 // user + system time of the child over the read
	Err        string
}

// ceilingReadInChild runs the ceiling's sequential read of key in a child process and returns what it measured.
func (b *bench) ceilingReadInChild(ctx context.Context, bucket, key, proto string) (childResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return childResult{}, err
	}
	req, err := json.Marshal(childRequest{
		Server: endpointOf(b.srv), KeyFile: b.keyFile, Bucket: bucket, Key: key,
		Size: b.cfg.size, RangeSize: b.cfg.partSize, Concurrency: b.cfg.concurrency, Proto: proto,
	})
	if err != nil {
		return childResult{}, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, childArg)
	cmd.Env = cleanEnv()
	cmd.Stdin = bytes.NewReader(req)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return childResult{}, fmt.Errorf("the ceiling's child: %v: %s", err, lastLines(stderr.String(), 2))
	}
	var res childResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return childResult{}, fmt.Errorf("the ceiling's child answered %q: %v", lastLines(stdout.String(), 1), err)
	}
	if res.Err != "" {
		return res, fmt.Errorf("%s", res.Err)
	}
	return res, nil
}

// runCeilingChild is the child: it reads as asked and prints a childResult.
func runCeilingChild() int {
	var req childRequest
	var res childResult
	err := json.NewDecoder(os.Stdin).Decode(&req)
	var s *sdk
	if err == nil {
		var key sseKey
		if key, err = sseKeyFromFile(req.KeyFile); err == nil {
			s, err = newSDK(req.Server, key, req.Proto)
		}
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		cpu0 := selfCPU()
		t0 := time.Now()
		res.Bytes, err = s.getParallel(ctx, req.Bucket, req.Key, req.Size, req.RangeSize, req.Concurrency)
		res.Seconds = time.Since(t0).Seconds()
		res.CPUSeconds = selfCPU() - cpu0
		if err == nil && res.Bytes != req.Size {
			err = fmt.Errorf("read %d bytes, want %d", res.Bytes, req.Size)
		}
	}
	if err != nil {
		res.Err = err.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// selfCPU is this process's user and system time, in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
