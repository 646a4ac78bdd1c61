package jsonw

import (
	"encoding/json"
	"testing"
)

func FuzzAppendStringIsJSONMarshal(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "<b>&", "tab\t", "é", "\u2028", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("AppendString(%q) = %s, json.Marshal = %s", s, got[1:], want)
		}
	})
}
