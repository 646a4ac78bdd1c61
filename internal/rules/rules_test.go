package rules

import (
	"strings"
	"testing"
)

func TestText(t *testing.T) {
	for _, ok := range []string{"", "Linen shirt", "Tab\tseparated", "Ünïcödé ✓", "a\u200bb"} {
		if msg := Text(ok); msg != "" {
			t.Errorf("Text(%q) = %q, want accepted", ok, msg)
		}
	}
	for _, bad := range []string{"nul\x00", "bell\a", "esc\x1b[31m", "del\x7f", "c1\u0085", "line\nbreak", "cr\r"} {
		if msg := Text(bad); !strings.Contains(msg, "control characters") {
			t.Errorf("Text(%q) = %q, want refused", bad, msg)
		}
	}
	for _, ok := range []string{"<p>one</p>\n<p>two</p>", "windows\r\nlines", "\ttabbed"} {
		if msg := Multiline(ok); msg != "" {
			t.Errorf("Multiline(%q) = %q, want accepted", ok, msg)
		}
	}
	for _, bad := range []string{"lone\rcr", "nul\x00", "\x1b]0;title\a"} {
		if msg := Multiline(bad); msg == "" {
			t.Errorf("Multiline(%q) accepted", bad)
		}
	}
}

func TestImageURL(t *testing.T) {
	for _, ok := range []string{"https://cdn.example.com/a.jpg", "http://x.example/a b.png", "HTTPS://X.EXAMPLE/A.JPG?v=1"} {
		if msg := ImageURL(ok); msg != "" {
			t.Errorf("ImageURL(%q) = %q, want accepted", ok, msg)
		}
	}
	for _, bad := range []string{
		"javascript:alert(1)", "JavaScript:alert(1)", "file:///etc/passwd", "gopher://x.example/", "data:image/png;base64,AAAA",
		"//cdn.example.com/a.jpg", "/img/a.jpg", "a.jpg", "https:/a.jpg", "https://", "http://x.example/\x00.jpg", "vbscript:msgbox",
	} {
		if msg := ImageURL(bad); msg == "" {
			t.Errorf("ImageURL(%q) accepted", bad)
		}
	}
}

func FuzzImageURL(f *testing.F) {
	f.Add("https://cdn.example.com/a.jpg")
	f.Add("javascript:alert(1)")
	f.Fuzz(func(t *testing.T, s string) {
		if ImageURL(s) != "" {
			return
		}
		low := strings.ToLower(s)
		if !strings.HasPrefix(low, "http://") && !strings.HasPrefix(low, "https://") {
			t.Fatalf("accepted %q, which is not http(s)", s)
		}
	})
}

func TestClip(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"short", 10, "short"}, {"exactly10!", 10, "exactly10!"}, {"eleven char", 10, "eleven ch…"}, {"ñññññ", 3, "ññ…"}} {
		if got := Clip(c.in, c.n); got != c.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
