package keysrc

import (
	"slices"
	"testing"
)

func TestNewKeyring(t *testing.T) {
	a, b, c := mustKey(t, 1), mustKey(t, 50), mustKey(t, 100)
	aAgain, err := NewKey(rawKey(1)) // same key, distinct value
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      []Key
		want    []Key
		wantErr bool
	}{
		{"empty", nil, nil, true},
		{"zero key", []Key{a, {}}, nil, true},
		{"one", []Key{a}, []Key{a}, false},
		{"order kept", []Key{c, a, b}, []Key{c, a, b}, false},
		{"duplicate dropped", []Key{a, b, a}, []Key{a, b}, false},
		{"equal material dropped", []Key{b, aAgain, c, a}, []Key{b, aAgain, c}, false},
		{"all the same", []Key{a, a, aAgain}, []Key{a}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewKeyring(tt.in...)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("NewKeyring succeeded, want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Len() != len(tt.want) {
				t.Fatalf("Len = %d, want %d", r.Len(), len(tt.want))
			}
			if r.Current().Fingerprint() != tt.want[0].Fingerprint() {
				t.Errorf("Current = %v, want %v", r.Current(), tt.want[0])
			}
			var want []string
			for _, k := range tt.want {
				want = append(want, k.Fingerprint())
			}
			if got := r.Fingerprints(); !slices.Equal(got, want) {
				t.Errorf("Fingerprints = %v, want %v", got, want)
			}
			for i, k := range r.Keys() {
				if k.Fingerprint() != want[i] {
					t.Errorf("Keys()[%d] = %v, want fingerprint %s", i, k, want[i])
				}
			}
		})
	}
}

func TestKeyringKeysIsACopy(t *testing.T) {
	a, b := mustKey(t, 1), mustKey(t, 50)
	r, err := NewKeyring(a, b)
	if err != nil {
		t.Fatal(err)
	}
	ks := r.Keys()
	ks[0] = b
	if r.Current().Fingerprint() != a.Fingerprint() {
		t.Errorf("modifying Keys() changed the keyring")
	}
	in := []Key{a, b}
	r, _ = NewKeyring(in...)
	in[0] = b
	if r.Current().Fingerprint() != a.Fingerprint() {
		t.Errorf("modifying NewKeyring's argument changed the keyring")
	}
}

func TestKeyringString(t *testing.T) {
	a, b := mustKey(t, 1), mustKey(t, 50)
	r, err := NewKeyring(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := "keyring [" + a.Fingerprint() + " (current), " + b.Fingerprint() + "]"
	if got := r.String(); got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	assertNoLeak(t, "Keyring.String", r.String(), rawOf(a))
	assertNoLeak(t, "Keyring.String", r.String(), rawOf(b))
}
