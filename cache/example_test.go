package cache

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

func ExamplePageCache_NewReader() {
	obj := bytes.Repeat([]byte("0123456789"), 100_000) // 1,000,000 bytes
	c, err := New(64<<20, Options{PageSize: 64 << 10, FetchTimeout: time.Minute})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	r := c.NewReader("dir/file", "etag-1", int64(len(obj)), bytesFunc(func(ctx context.Context, off, length int64) ([]byte, error) {
		return bytes.Clone(obj[off : off+length]), nil // a ranged GET
	}))
	defer r.Close()
	buf := make([]byte, 15)
	n, err := r.ReadAt(context.Background(), buf, 999_990)
	fmt.Printf("%d %v %q\n", n, err, buf[:n])
	// Output: 10 <nil> "0123456789"
}
