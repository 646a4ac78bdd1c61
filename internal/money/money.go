// Package money represents prices as integer minor units (cents) paired with an ISO-4217
// currency, and converts them to and from exact decimal strings. Floats never appear: a price
// that cannot be represented exactly in the currency's minor unit is an error, not a rounding,
// so what a merchant typed is what a customer pays.
package money

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// Money is an amount in the currency's minor unit (cents for USD, yen for JPY, fils for KWD).
type Money struct {
	Amount   int64  // minor units
	Currency string // ISO-4217 code, upper-case
}

// DefaultCurrency is the catalog's currency when none is configured
// (SHELF_CURRENCY).
const DefaultCurrency = "USD"

// exponents holds the minor-unit digits of ISO 4217's current currencies
// (its list one, less funds, precious metals and codes for testing).
var exponents = func() map[string]int {
	m := map[string]int{}
	for digits, codes := range []string{
		0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF",
		2: "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD" +
			" FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN" +
			" MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD" +
			" TZS UAH USD UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG",
		3: "BHD IQD JOD KWD LYD OMR TND",
	} {
		for _, c := range strings.Fields(codes) {
			m[c] = digits
		}
	}
	return m
}()

// Exponent returns the number of minor-unit digits of an ISO-4217 currency code
// (2 for USD, 0 for JPY, 3 for KWD). The code must be upper-case; an unknown code
// returns false.
func Exponent(currency string) (int, bool) {
	e, ok := exponents[currency]
	return e, ok
}

// Sentinel errors, for errors.Is; the *Error values returned carry an API-ready message.
var (
	ErrSyntax   = errors.New("money: invalid syntax")
	ErrNegative = errors.New("money: negative amount")
	ErrRange    = errors.New("money: amount out of range")
	ErrCurrency = errors.New("money: unknown currency")
)

// Error is returned by Parse and ParseSigned. Error() is a short English sentence fragment
// meant to follow a field name in an API response ("price must be ...").
type Error struct {
	Kind error  // one of ErrSyntax, ErrNegative, ErrRange, ErrCurrency
	Msg  string // e.g. "must be a decimal number with at most 2 decimal places"
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

func syntaxError(exp int) error {
	switch exp {
	case 0:
		return &Error{ErrSyntax, "must be a whole number with no decimal places"}
	case 1:
		return &Error{ErrSyntax, "must be a decimal number with at most 1 decimal place"}
	}
	return &Error{ErrSyntax, "must be a decimal number with at most " + strconv.Itoa(exp) + " decimal places"}
}

// Parse converts a non-negative decimal string in major units into minor units of currency:
// Parse("199.5", "USD") == 19950, Parse("1500", "JPY") == 1500.
//
// Accepted: ASCII digits, optionally followed by "." and at least one digit ("0.5", "199.50").
// Rejected: empty input, surrounding or inner spaces, a sign ("+1", "-1"; use ParseSigned for
// negatives), thousands separators ("1,234.50"), a bare leading or trailing point (".5", "5."),
// exponents ("1e3"), "NaN"/"Inf", and results beyond int64. Fractional digits beyond the
// currency's exponent are allowed only when they are zeros ("1.500" is 150 USD cents); "1.005"
// is an error, never rounded.
func Parse(s, currency string) (int64, error) {
	if len(s) > 0 && s[0] == '-' {
		if _, err := ParseSigned(s, currency); err != nil {
			return 0, err
		}
		return 0, &Error{ErrNegative, "must not be negative"}
	}
	return ParseSigned(s, currency)
}

// ParseSigned is Parse that also accepts a leading "-" (refunds, adjustments). "-0" is 0.
func ParseSigned(s, currency string) (int64, error) {
	exp, ok := Exponent(currency)
	if !ok {
		return 0, &Error{ErrCurrency, "has an unknown currency " + strconv.Quote(currency)}
	}
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg = true
		s = s[1:]
	}
	if s == "" {
		if neg {
			return 0, syntaxError(exp)
		}
		return 0, &Error{ErrSyntax, "must not be empty"}
	}
	// Accumulate as a negative number so that math.MinInt64 fits.
	const minInt = -1 << 63
	var v int64
	i := 0
	digits := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := int64(s[i] - '0')
		if v < (minInt+d)/10 {
			return 0, &Error{ErrRange, "is too large"}
		}
		v = v*10 - d
		digits++
	}
	if digits == 0 {
		return 0, syntaxError(exp)
	}
	frac := 0
	if i < len(s) {
		if s[i] != '.' {
			return 0, syntaxError(exp)
		}
		i++
		if i == len(s) {
			return 0, syntaxError(exp) // "5."
		}
		for ; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, syntaxError(exp)
			}
			if frac >= exp {
				if c != '0' {
					return 0, syntaxError(exp)
				}
				continue
			}
			d := int64(c - '0')
			if v < (minInt+d)/10 {
				return 0, &Error{ErrRange, "is too large"}
			}
			v = v*10 - d
			frac++
		}
	}
	for ; frac < exp; frac++ {
		if v < minInt/10 {
			return 0, &Error{ErrRange, "is too large"}
		}
		v *= 10
	}
	if neg {
		return v, nil
	}
	if v == minInt {
		return 0, &Error{ErrRange, "is too large"}
	}
	return -v, nil
}

// Format renders minor units as a decimal string with exactly the currency's number of
// decimal places: Format(19900, "USD") == "199.00", Format(-350, "EUR") == "-3.50",
// Format(1500, "JPY") == "1500", Format(1250, "KWD") == "1.250". An unknown currency is
// formatted with 2 decimal places.
func Format(amount int64, currency string) string {
	exp, ok := Exponent(currency)
	if !ok {
		exp = 2
	}
	var buf [32]byte
	return string(appendAmount(buf[:0], amount, exp))
}

func appendAmount(dst []byte, amount int64, exp int) []byte {
	u := uint64(amount)
	if amount < 0 {
		dst = append(dst, '-')
		u = -u // two's complement: correct for math.MinInt64 too
	}
	var tmp [24]byte
	digits := strconv.AppendUint(tmp[:0], u, 10)
	if exp == 0 {
		return append(dst, digits...)
	}
	if len(digits) <= exp {
		dst = append(dst, '0', '.')
		for range exp - len(digits) {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	cut := len(digits) - exp
	dst = append(dst, digits[:cut]...)
	dst = append(dst, '.')
	return append(dst, digits[cut:]...)
}

// String returns e.g. "199.00 USD".
func (m Money) String() string { return Format(m.Amount, m.Currency) + " " + m.Currency }

type moneyJSON struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// MarshalJSON encodes m as {"amount":"199.00","currency":"USD"}: the amount is a string so
// JavaScript clients never turn it into a float. An unknown currency is an error.
func (m Money) MarshalJSON() ([]byte, error) { return m.AppendJSON(make([]byte, 0, 48)) }

// AppendJSON appends what MarshalJSON returns to b, for encoders that write
// a whole document into one buffer.
func (m Money) AppendJSON(b []byte) ([]byte, error) {
	exp, ok := Exponent(m.Currency)
	if !ok {
		return nil, &Error{ErrCurrency, "money: unknown currency " + strconv.Quote(m.Currency)}
	}
	b = append(b, `{"amount":"`...)
	b = appendAmount(b, m.Amount, exp)
	b = append(b, `","currency":`...)
	b = strconv.AppendQuote(b, m.Currency)
	return append(b, '}'), nil
}

// UnmarshalJSON is the inverse of MarshalJSON; the amount may be negative.
func (m *Money) UnmarshalJSON(data []byte) error {
	var j moneyJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	v, err := ParseSigned(j.Amount, j.Currency)
	if err != nil {
		return err
	}
	m.Amount, m.Currency = v, j.Currency
	return nil
}
