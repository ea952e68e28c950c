package cache

// The slots of the arena: the LRU list of cached pages, pinning, eviction, and the
// taking and publishing of a slot for a fetched page. Everything here runs with
// PageCache.mu held, except unpin (which takes it). A reserved slot's data is written
// without the lock by the fetch that reserved it (flight.go): it is that fetch's alone.

type slotState uint8

const (
	slotFree     slotState = iota // in free, all zero
	slotCached                    // in index and in the LRU list
	slotDoomed                    // out of index and list, still pinned: freed by the last unpin
	slotReserved                  // taken by a fetch that is copying a page into it
)

// slot is one page of the arena. PageCache.mu guards key, pins, state and the LRU
// links, and n except while the slot is reserved. data[:n] does not change while the
// slot is cached, so a reader copies it under a pin, without the lock; a reserved
// slot's data and n are written by the fetch that reserved it, which nobody else
// touches until it publishes the slot under the lock.
type slot struct {
	data       []byte // the arena page, len pageSize
	key        pageKey
	n          int // bytes of data in use
	pins       int32
	state      slotState
	prev, next int32 // LRU links (towards head, towards tail)
	// ra and raPage mark a page fetched ahead, while watched (observe.go).
	ra     *readAheadPages
	raPage int32
}

func (c *PageCache) unlinkLocked(i int32) {
	s := &c.slots[i]
	if s.prev >= 0 {
		c.slots[s.prev].next = s.next
	} else {
		c.head = s.next
	}
	if s.next >= 0 {
		c.slots[s.next].prev = s.prev
	} else {
		c.tail = s.prev
	}
	s.prev, s.next = -1, -1
}

func (c *PageCache) pushFrontLocked(i int32) {
	s := &c.slots[i]
	s.prev, s.next = -1, c.head
	if c.head >= 0 {
		c.slots[c.head].prev = i
	}
	c.head = i
	if c.tail < 0 {
		c.tail = i
	}
}

// pinLocked pins cached slot i and marks it most recently used.
func (c *PageCache) pinLocked(i int32) *slot {
	s := &c.slots[i]
	c.hitLocked(s)
	s.pins++
	c.pinned++
	if c.head != i {
		c.unlinkLocked(i)
		c.pushFrontLocked(i)
	}
	return s
}

// unpin ends a copy from slot i. A slot removed while pinned is zeroed and freed by
// its last unpin. If drop, the page turned out unusable: remove it from the cache.
func (c *PageCache) unpin(i int32, drop bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if drop && c.slots[i].state == slotCached {
		c.removeLocked(i)
	}
	c.unpinLocked(i)
	if c.pinned == 0 && c.closed {
		c.unpinned.Broadcast()
	}
}

// unpinLocked drops one pin of slot i, freeing it if it was removed meanwhile.
func (c *PageCache) unpinLocked(i int32) {
	s := &c.slots[i]
	s.pins--
	c.pinned--
	if s.pins == 0 && s.state == slotDoomed {
		c.freeLocked(i)
	}
}

// removeLocked takes cached slot i out of the cache: zeroed and freed now, or by its
// last unpin if a copy is in progress.
func (c *PageCache) removeLocked(i int32) {
	s := &c.slots[i]
	c.retireLocked(s, false)
	delete(c.index, s.key)
	c.unlinkLocked(i)
	c.bytes -= int64(s.n)
	if s.pins > 0 {
		s.state = slotDoomed
		return
	}
	c.freeLocked(i)
}

// freeLocked zeroes slot i and puts it on the free list.
func (c *PageCache) freeLocked(i int32) {
	s := &c.slots[i]
	clear(s.data[:s.n])
	s.n, s.key, s.state = 0, pageKey{}, slotFree
	c.free = append(c.free, i)
}

// reserveLocked takes a slot for a page about to be stored: a free one, else the least
// recently used unpinned page, evicted. The slot is the caller's until it publishes or
// frees it; it may still hold n bytes of the evicted page, which the caller overwrites
// or zeroes (flight.go, store). Returns -1 if every page is pinned.
func (c *PageCache) reserveLocked() int32 {
	if n := len(c.free); n > 0 {
		i := c.free[n-1]
		c.free = c.free[:n-1]
		c.slots[i].state = slotReserved
		return i
	}
	for i := c.tail; i >= 0; i = c.slots[i].prev {
		s := &c.slots[i]
		if s.pins == 0 {
			c.retireLocked(s, true)
			delete(c.index, s.key)
			c.unlinkLocked(i)
			c.bytes -= int64(s.n)
			s.key, s.state = pageKey{}, slotReserved
			return i
		}
	}
	return -1
}

// publishLocked makes filled slot i the cached page key, most recently used. The
// page is not cached already: a flight is started only for a page that is neither
// cached nor being fetched, and stays registered until it publishes.
func (c *PageCache) publishLocked(i int32, key pageKey) {
	s := &c.slots[i]
	s.key, s.state = key, slotCached
	c.index[key] = i
	c.pushFrontLocked(i)
	c.bytes += int64(s.n)
}
