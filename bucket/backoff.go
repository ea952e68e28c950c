package bucket

import (
	"math/rand/v2"
	"time"
)

// backoff doubles the wait between tries from 200 ms up to 5 s, with jitter, so that
// the default eight tries ride out about fifteen seconds of a server's absence. The
// SDK's own default starts at 50 ms, which gives up within a second.
type backoff struct{}

const (
	backoffBase = 200 * time.Millisecond
	backoffMax  = 5 * time.Second
)

func (backoff) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	d := backoffMax
	if attempt < 6 {
		d = min(backoffBase<<(attempt-1), backoffMax)
	}
	return d/2 + rand.N(d/2+1), nil
}
