package cache

import "sync"

// arena is the memory of a PageCache's pages, allocated once.
type arena struct {
	mem    []byte
	locked bool // mlocked: never swapped out

	once  sync.Once
	unmap func([]byte) error
}

// release gives the memory back (once). Its pages must be zero already: only the
// pages in use were written, and they are zeroed when they leave the cache.
func (a *arena) release() {
	a.once.Do(func() {
		if a.unmap != nil {
			_ = a.unmap(a.mem) // only fails for a bad address or length, which ours are not
		}
		a.mem = nil
	})
}
