package orders

import "strconv"

// Money is an amount as the API shows it: {"amount": "199.00", "currency": "USD"}.
// Inside Shelf amounts are integer minor units; only formatAmount turns them
// into text. (It moves to internal/money once that package lands.)
type Money struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

func newMoney(minor int64, currency string) Money {
	return Money{Amount: formatAmount(minor, currency), Currency: currency}
}

// minorDigits are the ISO 4217 minor-unit digits that differ from 2.
var minorDigits = map[string]int{
	"JPY": 0, "KRW": 0, "ISK": 0, "VND": 0, "CLP": 0, "PYG": 0, "UGX": 0, "XAF": 0, "XOF": 0,
	"KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3, "IQD": 3, "LYD": 3,
}

// formatAmount renders minor units as a decimal string with the currency's
// minor-unit digits: 19900 USD is "199.00", 1500 JPY is "1500".
func formatAmount(minor int64, currency string) string {
	exp, ok := minorDigits[currency]
	if !ok {
		exp = 2
	}
	neg := minor < 0
	u := uint64(minor)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if exp > 0 {
		for len(s) <= exp {
			s = "0" + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
