package catalog_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shelfcommerce/shelf/internal/catalog"
)

func TestSearchTerms(t *testing.T) {
	for q, want := range map[string][]string{
		"Linen shirt":                                      {"linen", "shirt"},
		"the sofa, for THE home":                           {"sofa", "home"},
		"a an to of linen":                                 {"linen"},
		"+linen -wool ~oak* \"silk\" (hat)":                {"linen", "wool", "oak", "silk", "hat"},
		"linen' OR '1'='1; DROP TABLE x--":                 {"linen", "drop", "table"},
		"Café CRÈME crème":                                 {"café", "crème"},
		"SH-00001234-1":                                    {"00001234"},
		"one two three four five six seven eight nine ten": {"one", "two", "three", "four", "five", "six", "seven", "eight"},
		"日本語 ab 東京":                                        {"日本語"},
		strings.Repeat("x", 85) + " ok1":                   {"ok1"},
		"<b>bold</b>":                                      {"bold"}, // a query has no HTML: b is too short anyway
	} {
		if got := catalog.SearchTerms(q); !slices.Equal(got, want) {
			t.Errorf("SearchTerms(%q) = %q, want %q", q, got, want)
		}
	}
}

func TestProductWords(t *testing.T) {
	got := catalog.ProductWords("Linen Linen Tablecloth", "Linen Co", "LT-100 LT-200",
		`<p class="tablecloth">Pure <strong>linen</strong>; the cloth &amp; a < b > c, caf&eacute;&nbsp;au&#108;ait, x&lt;y and z&gt;w.</p>`)
	want := map[string]int{
		"linen":      4*2 + 2 + 1,
		"tablecloth": 4, // not the class attribute
		"100":        2,
		"200":        2,
		"pure":       1,
		"cloth":      1,
		// Character references are their characters ("amp" and "nbsp"
		// are no words), and a decoded "<" opens no tag.
		"café":   1,
		"aulait": 1,
		"and":    1,
	}
	if !maps.Equal(got, want) {
		t.Errorf("ProductWords = %v, want %v", got, want)
	}
	if s := catalog.ProductWords("", "", "", strings.Repeat("wool ", 70000))["wool"]; s != 65535 {
		t.Errorf("a word 70,000 times scores %d, want the cap 65535", s)
	}
}

// FuzzSearchTerms: terms are what the index can hold (at least 3
// characters, at most 84 bytes, distinct, at most 8, no operator or space),
// and a product whose title is the query contains every one of them.
func FuzzSearchTerms(f *testing.F) {
	for _, s := range []string{"linen shirt", "the for with", "İstanbul ǅemal", "a<b>c", "+-~*\"()<>@", "ﬃ ß ΣΑΣ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		terms := catalog.SearchTerms(q)
		if len(terms) > 8 {
			t.Fatalf("%d terms", len(terms))
		}
		words := catalog.ProductWords(q, "", "", "")
		for i, w := range terms {
			if utf8.RuneCountInString(w) < 3 || len(w) > 84 || strings.ContainsAny(w, "+-~*\"()<>@ \t") || slices.Contains(terms[:i], w) {
				t.Fatalf("term %q of %q", w, q)
			}
			if words[w] < 4 {
				t.Fatalf("a product titled %q does not contain its term %q (%v)", q, w, words)
			}
		}
	})
}
