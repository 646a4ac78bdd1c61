// Package jsonw holds what the hand-written JSON encoders share (the
// listing's pages, the change feed's events): they write the bytes
// encoding/json would, without reflection, on paths where encoding through
// reflection cost more CPU than the database work around it.
package jsonw

import "encoding/json"

// AppendString appends s as a JSON string, byte for byte as json.Marshal
// writes it: printable ASCII other than the characters json.Marshal escapes
// is copied as it is; any other string goes through json.Marshal.
func AppendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
