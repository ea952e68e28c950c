package writeback

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
)

// spillFile holds pages that must leave memory before their file is saved. Each page is
// sealed with AES-256-GCM under a key drawn at start that exists only in this process's
// memory, so what reaches the disk is ciphertext that no one, this process after a
// restart included, can read. The file is unlinked as soon as it is made: nothing of it
// outlives the process.
type spillFile struct {
	mu   sync.Mutex
	f    *os.File
	aead cipher.AEAD
	free []int64 // slots to reuse
	next int64   // first slot never used
}

// spillSlot is the room one sealed page takes: nonce, ciphertext, tag.
const spillSlot = 12 + writePage + 16

func newSpillFile(dir string) (*spillFile, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	clear(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "ssecfs-spill-")
	if err != nil {
		return nil, fmt.Errorf("creating the encrypted spill file: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("unlinking the spill file: %w", err)
	}
	return &spillFile{f: f, aead: aead}, nil
}

// put seals one page into a free slot and returns the slot.
func (s *spillFile) put(page []byte) (int64, error) {
	s.mu.Lock()
	var slot int64
	if n := len(s.free); n > 0 {
		slot, s.free = s.free[n-1], s.free[:n-1]
	} else {
		slot = s.next
		s.next++
	}
	s.mu.Unlock()
	buf := make([]byte, 12, spillSlot)
	if _, err := rand.Read(buf); err != nil {
		s.release(slot)
		return 0, err
	}
	// The slot number is authenticated too, so a page cannot be read back from
	// another slot.
	buf = s.aead.Seal(buf, buf[:12], page, slotAAD(slot))
	if _, err := s.f.WriteAt(buf, slot*spillSlot); err != nil {
		s.release(slot)
		return 0, fmt.Errorf("writing the spill file: %w", err)
	}
	return slot, nil
}

// get opens the page in slot into dst (writePage bytes).
func (s *spillFile) get(slot int64, dst []byte) error {
	buf := make([]byte, spillSlot)
	if _, err := s.f.ReadAt(buf, slot*spillSlot); err != nil {
		return fmt.Errorf("reading the spill file: %w", err)
	}
	out, err := s.aead.Open(dst[:0], buf[:12], buf[12:], slotAAD(slot))
	if err != nil {
		return fmt.Errorf("spill file page %d fails authentication: %w", slot, err)
	}
	if len(out) != writePage {
		return fmt.Errorf("spill file page %d has %d bytes", slot, len(out))
	}
	return nil
}

func (s *spillFile) release(slot int64) {
	s.mu.Lock()
	s.free = append(s.free, slot)
	s.mu.Unlock()
}

func slotAAD(slot int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(slot))
}
