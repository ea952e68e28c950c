package cache

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

// waitFor polls cond until it holds, failing the test after a few seconds.
// Tests use it to know that every goroutine is parked on a flight before they
// release a blocked fetch.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// content makes recognizable page bytes for a key.
func content(key PageKey, n int) []byte {
	b := bytes.Repeat([]byte(fmt.Sprintf("%s|%s|%d|", key.Object, key.Version, key.Index)), n+1)
	return b[:n]
}

// fixed returns a FetchFunc that returns a copy of b and counts its calls.
func fixed(b []byte, calls *int) FetchFunc {
	return func(context.Context) ([]byte, error) {
		if calls != nil {
			*calls++
		}
		return bytes.Clone(b), nil
	}
}

// sumBytes recomputes the byte count from the cached slots themselves, to
// check the incremental accounting.
func sumBytes(c *PageCache) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, i := range c.index {
		n += int64(c.slots[i].n)
	}
	return n
}

// accounting returns the byte count and what the cached slots hold, at one
// instant (read-ahead may store pages at any time).
func accounting(c *PageCache) (counted, held int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, i := range c.index {
		held += int64(c.slots[i].n)
	}
	return c.bytes, held
}

// peek reports whether a page is cached, without touching the LRU order.
func (c *PageCache) peek(key PageKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.index[key]
	return ok
}
