package fastgzip

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

func inflate(t testing.TB, z []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// listing is a body like a listing page: repeated keys, varying values.
func listing(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"slug":"oak-table-%d","title":"Oak Table %d","brand":"Acme","price":{"amount":"%d.99","currency":"USD"},"in_stock":%v,"created_at":"2025-01-01T06:43:28Z"}`,
			70000+i*37, i, i, 10+i%90, i%3 == 0)
	}
	b.WriteString(`],"next_cursor":null}`)
	return []byte(b.String())
}

// Every input inflates back to itself with the standard library's reader
// (which checks the CRC and the length): empty, shorter than a match, long
// runs (matches of the maximum length, overlapping their source), random
// bytes, and more than the 32 KB window.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 100_000)
	for i := range random {
		random[i] = byte(r.UintN(256))
	}
	lowEntropy := make([]byte, 200_000)
	for i := range lowEntropy {
		lowEntropy[i] = "abcab"[r.IntN(5)]
	}
	cases := map[string][]byte{
		"empty": {}, "one": []byte("x"), "three": []byte("abc"), "four": []byte("abcd"),
		"run": bytes.Repeat([]byte("a"), 1000), "pairs": bytes.Repeat([]byte("ab"), 5000),
		"random": random, "low entropy, past the window": lowEntropy,
		"listing": listing(24), "big listing": listing(1000),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			z := Append(nil, in)
			if got := inflate(t, z); !bytes.Equal(got, in) {
				t.Fatalf("inflated %d bytes differ from the %d given", len(got), len(in))
			}
		})
	}
}

// A listing page compresses to well under half its size (compress/gzip at
// level 1 reaches about a quarter).
func TestListingShrinks(t *testing.T) {
	in := listing(24)
	z := Append(nil, in)
	if len(z) > len(in)/2 {
		t.Fatalf("%d bytes gzipped to %d", len(in), len(z))
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello hello hello"), uint8(1))
	f.Add(listing(3), uint8(40))
	f.Fuzz(func(t *testing.T, in []byte, repeat uint8) {
		in = bytes.Repeat(in, int(repeat%64)+1)
		if got := inflate(t, Append([]byte("prefix"), in)[len("prefix"):]); !bytes.Equal(got, in) {
			t.Fatalf("round trip of %d bytes gave %d", len(in), len(got))
		}
	})
}
