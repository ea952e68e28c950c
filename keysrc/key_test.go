package keysrc

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestNewKeyLength(t *testing.T) {
	for _, n := range []int{0, 1, 16, 31, 33, 64} {
		if _, err := NewKey(make([]byte, n)); err == nil {
			t.Errorf("NewKey(%d bytes) succeeded, want error", n)
		}
	}
	if _, err := NewKey(make([]byte, 32)); err != nil {
		t.Errorf("NewKey(32 bytes): %v", err)
	}
}

func TestFingerprintKnownValue(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
	}{
		{"zeros", make([]byte, 32)},
		{"counting", rawKey(0)},
		{"high", rawKey(200)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewKey(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			sum := md5.Sum(tt.raw)
			wantFP := base64.StdEncoding.EncodeToString(sum[:])
			if got := k.Fingerprint(); got != wantFP {
				t.Errorf("Fingerprint = %q, want %q", got, wantFP)
			}
			if got, want := k.Base64(), base64.StdEncoding.EncodeToString(tt.raw); got != want {
				t.Errorf("Base64 = %q, want %q", got, want)
			}
			if got := k.String(); got != "key "+wantFP {
				t.Errorf("String = %q, want %q", got, "key "+wantFP)
			}
		})
	}
	// Fixed values, computed outside Go (python hashlib and openssl md5),
	// so a change in the algorithm cannot go unnoticed.
	for _, c := range []struct {
		raw  []byte
		want string
	}{
		{make([]byte, 32), "cLyPS3KoaSFGi/joRB3OUQ=="},
		{rawKey(0), "tP/LI3N87DFaSk0aoqYgzg=="},
	} {
		k, _ := NewKey(c.raw)
		if got := k.Fingerprint(); got != c.want {
			t.Errorf("Fingerprint(%v) = %q, want %q", c.raw, got, c.want)
		}
	}
}

func TestNewKeyCopies(t *testing.T) {
	raw := rawKey(7)
	k, err := NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	fp, b64 := k.Fingerprint(), k.Base64()
	raw[0] ^= 0xff // mutating the input must not change the key
	if rawOf(k)[0] != 7 || k.Fingerprint() != fp || k.Base64() != b64 {
		t.Fatalf("key changed when its input was mutated")
	}
}

func TestZeroKey(t *testing.T) {
	var k Key
	if k.Base64() != "" || rawOf(k) != nil || k.Fingerprint() != "" {
		t.Errorf("zero Key has material")
	}
	if got := fmt.Sprint(k); got != "key (none)" {
		t.Errorf("zero Key prints %q", got)
	}
}

type exported struct {
	Name string
	K    Key
}

type unexported struct {
	name string
	k    Key
}

type withPtr struct {
	K *Key
}

func TestFormattingNeverLeaks(t *testing.T) {
	k := mustKey(t, 200)
	k2 := mustKey(t, 100)
	ring, err := NewKeyring(k, k2)
	if err != nil {
		t.Fatal(err)
	}
	values := []struct {
		name string
		v    any
		// showsFP: the output must show the fingerprint form verbatim.
		showsFP bool
	}{
		{"Key", k, true},
		{"*Key", &k, true},
		{"[]Key", []Key{k, k2}, true},
		{"[2]Key", [2]Key{k, k2}, true},
		{"map", map[string]Key{"a": k}, true},
		{"exported field", exported{"x", k}, true},
		{"pointer field", withPtr{&k}, false}, // fmt prints the pointer
		// fmt cannot call methods through unexported fields and prints
		// them by reflection: the *string fields must keep it safe.
		{"unexported field", unexported{"x", k}, false},
		{"*unexported field", &unexported{"x", k}, false},
		{"Keyring", ring, false},
		{"any slice", []any{k, &k}, true},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q", "%10v", "%-60s", "%.3s", "%#x", "%#q", "% x", "%T"}
	for _, val := range values {
		for _, verb := range verbs {
			out := fmt.Sprintf(verb, val.v)
			assertNoLeak(t, val.name+" with "+verb, out, rawOf(k))
			assertNoLeak(t, val.name+" with "+verb, out, rawOf(k2))
			if val.showsFP && (verb == "%v" || verb == "%+v" || verb == "%#v" || verb == "%s" || verb == "%x" || verb == "%d") {
				if !strings.Contains(out, "key "+k.Fingerprint()) {
					t.Errorf("%s with %s = %q, want the fingerprint form", val.name, verb, out)
				}
			}
		}
		for _, out := range []string{fmt.Sprint(val.v), fmt.Sprintln(val.v)} {
			assertNoLeak(t, val.name+" with Sprint", out, rawOf(k))
		}
	}
	if got, want := fmt.Sprintf("%q", k), `"key `+k.Fingerprint()+`"`; got != want {
		t.Errorf("%%q = %s, want %s", got, want)
	}
	if got, want := fmt.Sprintf("%#v", k), "key "+k.Fingerprint(); got != want || k.GoString() != want {
		t.Errorf("%%#v = %s, want %s", got, want)
	}
	if got := fmt.Sprintf("[%30s]", k); len(got) != 32 {
		t.Errorf("width not honoured: %q", got)
	}
}

func TestMarshalNeverLeaks(t *testing.T) {
	k := mustKey(t, 200)
	want := "key " + k.Fingerprint()
	for _, v := range []any{k, &k, []Key{k}, exported{"x", k}, map[Key]int{k: 1}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		assertNoLeak(t, fmt.Sprintf("json of %T", v), string(b), rawOf(k))
		if !strings.Contains(string(b), want) {
			t.Errorf("json of %T = %s, want it to contain %q", v, b, want)
		}
	}
	text, err := k.MarshalText()
	if err != nil || string(text) != want {
		t.Errorf("MarshalText = %q, %v; want %q", text, err, want)
	}
}
