package integration

import (
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// The adversarial tests (stress, differential, faults) take their amount of work and
// their randomness from the environment, so that any run can be made longer or replayed.

// stressScale is SSECFS_STRESS_SCALE (default 1): it multiplies the operation counts of
// the stress, differential and fault tests (make stress sets 10).
func stressScale(t *testing.T) float64 {
	t.Helper()
	v := os.Getenv("SSECFS_STRESS_SCALE")
	if v == "" {
		return 1
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || x <= 0 {
		t.Fatalf("SSECFS_STRESS_SCALE=%q: want a positive number", v)
	}
	return x
}

// stressScaled is n times stressScale, at least 1.
func stressScaled(t *testing.T, n int) int {
	return max(1, int(math.Round(float64(n)*stressScale(t))))
}

// envSeed is the seed given in the environment variable name, else a new one.
func envSeed(t *testing.T, name string) uint64 {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want a number", name, v)
		}
		return n
	}
	return rand.Uint64() >> 1
}

// logTail is the last n bytes of s.
func logTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}
