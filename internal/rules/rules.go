// Package rules holds the input rules that protect whoever later reads what
// Shelf stores: a storefront rendering a title, an admin screen showing a
// SKU, a CSV export opened in a spreadsheet. Every writer applies them, the
// admin API, the importer (through the product reader both share), orders
// and categories, so that no path stores what another would refuse.
//
// Product descriptions are HTML and are stored as given: Shelf does not
// sanitise them, and a storefront must treat them as untrusted HTML (pass
// them through an HTML sanitiser with an allow-list before rendering).
package rules

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clip is s cut to at most n characters (n > 0), on a character boundary,
// its last one "…" when it was cut: for text that is a record (who made a
// change, what an endpoint answered) and must fit its column, never a
// reason to refuse the write it belongs to.
func Clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Text checks a single-line text field: no control characters at all
// (Unicode category Cc: U+0000-U+001F, U+007F-U+009F), tab excepted. It
// returns "" when s is acceptable, else the message for the field.
func Text(s string) string { return text(s, false) }

// Multiline checks a text field that may hold lines (a description, a
// note): like Text, but a newline (LF, or CR LF) is allowed too.
func Multiline(s string) string { return text(s, true) }

func text(s string, lines bool) string {
	for i, r := range s {
		if !unicode.IsControl(r) || r == '\t' {
			continue
		}
		if lines && (r == '\n' || r == '\r' && strings.HasPrefix(s[i+1:], "\n")) {
			continue
		}
		allowed := "tab"
		if lines {
			allowed = "tab and newline"
		}
		return fmt.Sprintf("must not contain control characters (found U+%04X at byte %d; only %s are allowed)", r, i, allowed)
	}
	return ""
}

// ImageURL checks an image address: an absolute http or https URL with a
// host. Anything else (javascript:, data:, file:, gopher:, a relative path)
// would run, leak or fail in the browser of whoever renders the image. It
// returns "" when src is acceptable, else the message for the field.
func ImageURL(src string) string {
	const want = "must be an absolute http or https URL such as https://cdn.example.com/a.jpg"
	if msg := Text(src); msg != "" {
		return msg
	}
	u, err := url.Parse(src)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return want
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return ""
	}
	return want
}
