//go:build !linux

package cache

// mapArena allocates the arena on the Go heap where anonymous mappings with
// MADV_DONTDUMP are not available. It is not locked in RAM.
func mapArena(n int) (*arena, error) {
	return &arena{mem: make([]byte, n)}, nil
}
