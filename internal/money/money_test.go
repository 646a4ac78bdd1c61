package money

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExponent(t *testing.T) {
	t.Parallel()
	for cur, want := range map[string]int{
		"USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "AUD": 2, "NZD": 2, "CHF": 2, "SEK": 2, "NOK": 2,
		"DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2, "JPY": 0, "KRW": 0, "CNY": 2, "INR": 2, "BRL": 2,
		"MXN": 2, "ZAR": 2, "SGD": 2, "HKD": 2, "KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3,
	} {
		got, ok := Exponent(cur)
		if !ok || got != want {
			t.Errorf("Exponent(%q) = %d, %v; want %d, true", cur, got, ok, want)
		}
	}
	for _, cur := range []string{"", "usd", "XXX", "US", "USDD", "BTC"} {
		if _, ok := Exponent(cur); ok {
			t.Errorf("Exponent(%q) ok; want unknown", cur)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, cur string
		want    int64
		kind    error // nil = success
	}{
		{"199", "USD", 19900, nil},
		{"199.5", "USD", 19950, nil},
		{"199.50", "USD", 19950, nil},
		{"0.99", "USD", 99, nil},
		{"0", "USD", 0, nil},
		{"0.0", "USD", 0, nil},
		{"0.5", "USD", 50, nil},
		{"50", "USD", 5000, nil},
		{"007.10", "USD", 710, nil},
		{"1.500", "USD", 150, nil},
		{"1.50000000000000000000000000000", "USD", 150, nil},
		{"1500", "JPY", 1500, nil},
		{"1500.0", "JPY", 1500, nil},
		{"1500.00", "KRW", 1500, nil},
		{"1.25", "KWD", 1250, nil},
		{"1.250", "KWD", 1250, nil},
		{"1.2505", "KWD", 0, ErrSyntax},
		{"0.001", "BHD", 1, nil},
		{"92233720368547758.07", "USD", math.MaxInt64, nil},
		{"92233720368547758.08", "USD", 0, ErrRange},
		{"92233720368547758", "USD", 9223372036854775800, nil},
		{"92233720368547759", "USD", 0, ErrRange},
		{"9223372036854775807", "JPY", math.MaxInt64, nil},
		{"9223372036854775808", "JPY", 0, ErrRange},
		{"99999999999999999999999999", "USD", 0, ErrRange},
		{"1.005", "USD", 0, ErrSyntax},
		{"1.001", "USD", 0, ErrSyntax},
		{"1.5", "JPY", 0, ErrSyntax},
		{"", "USD", 0, ErrSyntax},
		{" ", "USD", 0, ErrSyntax},
		{" 1", "USD", 0, ErrSyntax},
		{"1 ", "USD", 0, ErrSyntax},
		{"1 000", "USD", 0, ErrSyntax},
		{"1,234.50", "USD", 0, ErrSyntax},
		{"1.234,50", "USD", 0, ErrSyntax},
		{"1,5", "EUR", 0, ErrSyntax},
		{"+1", "USD", 0, ErrSyntax},
		{"-1", "USD", 0, ErrNegative},
		{"-0", "USD", 0, ErrNegative},
		{"-1.005", "USD", 0, ErrSyntax},
		{"--1", "USD", 0, ErrSyntax},
		{"-", "USD", 0, ErrSyntax},
		{".5", "USD", 0, ErrSyntax},
		{"5.", "USD", 0, ErrSyntax},
		{".", "USD", 0, ErrSyntax},
		{"1..5", "USD", 0, ErrSyntax},
		{"1.2.3", "USD", 0, ErrSyntax},
		{"1e3", "USD", 0, ErrSyntax},
		{"1E3", "USD", 0, ErrSyntax},
		{"1.5e2", "USD", 0, ErrSyntax},
		{"NaN", "USD", 0, ErrSyntax},
		{"Inf", "USD", 0, ErrSyntax},
		{"0x10", "USD", 0, ErrSyntax},
		{"$5", "USD", 0, ErrSyntax},
		{"5$", "USD", 0, ErrSyntax},
		{"５", "USD", 0, ErrSyntax}, // full-width digit
		{"1_000", "USD", 0, ErrSyntax},
		{"1\n", "USD", 0, ErrSyntax},
		{"1", "usd", 0, ErrCurrency},
		{"1", "", 0, ErrCurrency},
		{"1", "XXX", 0, ErrCurrency},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, tt.cur)
		if tt.kind == nil {
			if err != nil || got != tt.want {
				t.Errorf("Parse(%q, %s) = %d, %v; want %d", tt.in, tt.cur, got, err, tt.want)
			}
			continue
		}
		if !errors.Is(err, tt.kind) {
			t.Errorf("Parse(%q, %s) = %d, %v; want error %v", tt.in, tt.cur, got, err, tt.kind)
		}
		var me *Error
		if !errors.As(err, &me) || me.Msg == "" {
			t.Errorf("Parse(%q, %s): error %v is not a *money.Error with a message", tt.in, tt.cur, err)
		}
	}
}

func TestParseMessages(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, cur, msg string }{
		{"1.005", "USD", "must be a decimal number with at most 2 decimal places"},
		{"abc", "EUR", "must be a decimal number with at most 2 decimal places"},
		{"1.5", "JPY", "must be a whole number with no decimal places"},
		{"1.2345", "KWD", "must be a decimal number with at most 3 decimal places"},
		{"", "USD", "must not be empty"},
		{"-3", "USD", "must not be negative"},
		{"1e99", "USD", "must be a decimal number with at most 2 decimal places"},
		{"99999999999999999999", "USD", "is too large"},
	} {
		_, err := Parse(tt.in, tt.cur)
		if err == nil || err.Error() != tt.msg {
			t.Errorf("Parse(%q, %s) error = %v; want %q", tt.in, tt.cur, err, tt.msg)
		}
	}
}

func TestParseSigned(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"-3.50", -350, true},
		{"-0", 0, true},
		{"3.5", 350, true},
		{"-92233720368547758.08", math.MinInt64, true},
		{"-92233720368547758.09", 0, false},
		{"- 1", 0, false},
		{"+3", 0, false},
	} {
		got, err := ParseSigned(tt.in, "USD")
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSigned(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		amount int64
		cur    string
		want   string
	}{
		{19900, "USD", "199.00"},
		{-350, "EUR", "-3.50"},
		{1500, "JPY", "1500"},
		{-1500, "JPY", "-1500"},
		{1250, "KWD", "1.250"},
		{1, "KWD", "0.001"},
		{-1, "KWD", "-0.001"},
		{0, "USD", "0.00"},
		{0, "JPY", "0"},
		{5, "USD", "0.05"},
		{-5, "USD", "-0.05"},
		{99, "USD", "0.99"},
		{100, "USD", "1.00"},
		{math.MaxInt64, "USD", "92233720368547758.07"},
		{math.MinInt64, "USD", "-92233720368547758.08"},
		{math.MinInt64, "JPY", "-9223372036854775808"},
		{12345, "XXX", "123.45"},
	} {
		if got := Format(tt.amount, tt.cur); got != tt.want {
			t.Errorf("Format(%d, %s) = %q; want %q", tt.amount, tt.cur, got, tt.want)
		}
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		m    Money
		want string
	}{
		{Money{19900, "USD"}, `{"amount":"199.00","currency":"USD"}`},
		{Money{1500, "JPY"}, `{"amount":"1500","currency":"JPY"}`},
		{Money{-1250, "KWD"}, `{"amount":"-1.250","currency":"KWD"}`},
	} {
		b, err := json.Marshal(tt.m)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tt.m, b, err, tt.want)
			continue
		}
		var back Money
		if err := json.Unmarshal(b, &back); err != nil || back != tt.m {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", b, back, err, tt.m)
		}
	}
	// Inside a struct, by value and by pointer.
	b, err := json.Marshal(struct {
		Price *Money `json:"price"`
		Cost  Money  `json:"cost"`
	}{&Money{5, "EUR"}, Money{7, "EUR"}})
	if err != nil || string(b) != `{"price":{"amount":"0.05","currency":"EUR"},"cost":{"amount":"0.07","currency":"EUR"}}` {
		t.Errorf("nested Marshal = %s, %v", b, err)
	}
	if _, err := json.Marshal(Money{1, "usd"}); err == nil {
		t.Error("Marshal with unknown currency: want error")
	}
	var m Money
	if err := json.Unmarshal([]byte(`{"amount":1.5,"currency":"USD"}`), &m); err == nil {
		t.Error("Unmarshal with numeric amount: want error")
	}
	if err := json.Unmarshal([]byte(`{"amount":"1.005","currency":"USD"}`), &m); err == nil {
		t.Error("Unmarshal with 3 decimals for USD: want error")
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	if got := (Money{19950, "USD"}).String(); got != "199.50 USD" {
		t.Errorf("String = %q", got)
	}
}

// shopifyPrices returns the price cells of the sample Shopify exports, if they are present.
func shopifyPrices(tb testing.TB) []string {
	dir, err := filepath.Abs(".")
	if err != nil {
		return nil
	}
	for {
		cand := filepath.Join(dir, "shared", "data", "shopify")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			dir = cand
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	var out []string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		recs, err := csv.NewReader(fh).ReadAll()
		fh.Close()
		if err != nil || len(recs) == 0 {
			continue
		}
		for i, name := range recs[0] {
			if !strings.Contains(strings.ToLower(name), "price") && !strings.EqualFold(name, "Cost per item") {
				continue
			}
			for _, r := range recs[1:] {
				if i < len(r) && r[i] != "" {
					out = append(out, r[i])
				}
			}
		}
	}
	return out
}

func TestShopifySamplePrices(t *testing.T) {
	t.Parallel()
	prices := shopifyPrices(t)
	if len(prices) == 0 {
		t.Skip("shared/data/shopify not found")
	}
	for _, p := range prices {
		v, err := Parse(p, "USD")
		if err != nil {
			t.Errorf("Parse(%q) from a real export: %v", p, err)
			continue
		}
		// Real exports write either no decimals or exactly two.
		if f := Format(v, "USD"); f != p && f != p+".00" {
			t.Errorf("Format(Parse(%q)) = %q", p, f)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"199", "199.5", "0.99", "1.500", "1.005", ".5", "5.", "-1", "+1",
		"1e3", "NaN", "1,234.50", "", "92233720368547758.07", "92233720368547758.08", "00", "-0.001"} {
		f.Add(s, "USD")
	}
	f.Add("1500", "JPY")
	f.Add("1.250", "KWD")
	for _, p := range shopifyPrices(f) {
		f.Add(p, "USD")
	}
	f.Fuzz(func(t *testing.T, s, cur string) {
		v, err := Parse(s, cur)
		sv, serr := ParseSigned(s, cur)
		if err == nil {
			if v < 0 {
				t.Fatalf("Parse(%q) = %d: negative", s, v)
			}
			if serr != nil || sv != v {
				t.Fatalf("ParseSigned(%q) = %d, %v; Parse gave %d", s, sv, serr, v)
			}
		} else {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("Parse(%q) error %T is not *Error", s, err)
			}
		}
		if serr != nil {
			return
		}
		// Round trip: Format(ParseSigned(s)) parses back to the same value.
		out := Format(sv, cur)
		back, err := ParseSigned(out, cur)
		if err != nil || back != sv {
			t.Fatalf("ParseSigned(Format(%d)) = %q -> %d, %v", sv, out, back, err)
		}
		if sv >= 0 {
			if pv, err := Parse(out, cur); err != nil || pv != sv {
				t.Fatalf("Parse(Format(%d)) = %q -> %d, %v", sv, out, pv, err)
			}
		}
	})
}

func FuzzFormat(f *testing.F) {
	f.Add(int64(0), "USD")
	f.Add(int64(math.MinInt64), "JPY")
	f.Add(int64(math.MaxInt64), "KWD")
	f.Fuzz(func(t *testing.T, x int64, cur string) {
		if _, ok := Exponent(cur); !ok {
			return
		}
		s := Format(x, cur)
		back, err := ParseSigned(s, cur)
		if err != nil || back != x {
			t.Fatalf("ParseSigned(Format(%d, %s) = %q) = %d, %v", x, cur, s, back, err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := Parse("12345.67", "USD"); err != nil {
			b.Fatal(err)
		}
	}
}
