package cursor

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealedCursorsOpenOnlyWithTheirKey(t *testing.T) {
	t.Parallel()
	k := NewKey([]byte("secret"), "shelf/test-cursor")
	payload := []byte("position 42")
	c := k.Seal(payload)
	got, err := k.Open(c)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("Open(Seal(p)) = %q, %v", got, err)
	}
	for name, other := range map[string]Key{
		"another secret":  NewKey([]byte("other"), "shelf/test-cursor"),
		"another purpose": NewKey([]byte("secret"), "shelf/other-cursor"),
		"a random key":    NewKey(nil, "shelf/test-cursor"),
	} {
		if _, err := other.Open(c); !errors.Is(err, ErrSignature) {
			t.Errorf("%s opened the cursor: %v", name, err)
		}
	}
	b := []byte(c)
	b[len(b)/2] ^= 1
	if _, err := k.Open(string(b)); err == nil {
		t.Error("an altered cursor opened")
	}
	for _, bad := range []string{"", "!!!", "c2hvcnQ"} {
		if _, err := k.Open(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Open(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	k := NewKey([]byte("fuzz"), "shelf/test-cursor")
	f.Add(k.Seal([]byte("x")))
	f.Add("")
	f.Fuzz(func(t *testing.T, c string) {
		p, err := k.Open(c)
		if err == nil && k.Seal(p) != c {
			t.Fatalf("%q opened but is not what Seal makes of its payload", c)
		}
	})
}
