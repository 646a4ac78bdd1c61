package handlers

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/shelfcommerce/shelf/internal/problem"
)

// decodeJSON is the one reader of JSON request bodies. It answers 415 for a
// body that is not declared as JSON (a browser sends text/plain across
// origins without a preflight; nothing should accept that as a command),
// and reads the JSON strictly: object keys must match a field exactly
// (encoding/json would accept "EMAIL" for "email"), and unknown fields,
// trailing data and wrong types are a 400 that says where.
func decodeJSON(c echo.Context, v any) error {
	if err := requireJSON(c.Request()); err != nil {
		return err
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err // *http.MaxBytesError: 413
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return problem.New(problem.Invalid, "the request body is empty; it must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			return problem.New(problem.Invalid, "the request body must be a single JSON object")
		}
		return keyErrors(body, v)
	}
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		// encoding/json's path of the value leaves out array indices: the
		// walk finds the value, and its path.
		if err := keyErrors(body, v); err != nil {
			return err
		}
		return problem.Field(problem.Invalid, te.Field, fmt.Sprintf("must be %s", jsonKind(te.Type.Kind().String())))
	case errors.As(err, &se):
		return problem.New(problem.Invalid, "the request body is not valid JSON (at byte %d)", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json names the key, not where it is: the walk does.
		if err := keyErrors(body, v); err != nil {
			return err
		}
		return problem.Field(problem.Invalid, strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "is not a field of this request")
	}
	return problem.New(problem.Invalid, "the request body is not valid JSON")
}

// requireJSON refuses (415) a request whose body is not declared as JSON:
// application/json, or any application/*+json. A request without a body
// passes; its handler says what is missing.
func requireJSON(r *http.Request) error {
	if r.ContentLength == 0 {
		return nil
	}
	ct := r.Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return nil
	}
	if ct == "" {
		ct = "none"
	}
	return problem.New(problem.Unsupported, "the request body must be JSON, sent with Content-Type: application/json (got %s)", ct)
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// keyErrors is what exactKeys finds in body for v's type, as one 400.
func keyErrors(body []byte, v any) error {
	fe := problem.Fields{Kind: problem.Invalid}
	exactKeys(body, reflect.TypeOf(v), "", &fe)
	return fe.Err()
}

// exactKeys walks a body next to the type it is decoded into and reports,
// by its path (lines[0].quantity, the form every error of a body names a
// field in), every object key that matches a field only case-insensitively,
// which encoding/json accepts and this API does not, and every key that
// matches none.
func exactKeys(raw []byte, t reflect.Type, path string, fe *problem.Fields) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	raw = bytes.TrimSpace(raw)
	if pt := reflect.PointerTo(t); t == rawMessageType || len(raw) == 0 || raw[0] == 'n' ||
		pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType) {
		return // null, or a type that reads itself
	}
	if want, ok := wrongKind(raw, t); !ok {
		fe.Add(strings.TrimSuffix(path, "."), "must be "+want)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return
		}
		fields := jsonFields(t)
		for k, v := range m {
			if ft, ok := fields[k]; ok {
				exactKeys(v, ft, path+k+".", fe)
				continue
			}
			known := false
			for name := range fields {
				if strings.EqualFold(name, k) {
					known = true
					fe.Add(path+k, fmt.Sprintf("is not a field of this request; field names are case-sensitive: %q", name))
				}
			}
			if !known {
				fe.Add(path+k, "is not a field of this request")
			}
		}
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return
		}
		base := strings.TrimSuffix(path, ".")
		for i, it := range items {
			exactKeys(it, t.Elem(), base+"["+strconv.Itoa(i)+"].", fe)
		}
	case reflect.Map:
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return
		}
		for k, v := range m {
			exactKeys(v, t.Elem(), path+k+".", fe)
		}
	}
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// wrongKind checks a JSON value (not null) against the kind of the Go type
// it is decoded into, as encoding/json does; false with what it must be.
func wrongKind(raw []byte, t reflect.Type) (string, bool) {
	var ok bool
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		ok = raw[0] == '{'
	case reflect.Slice, reflect.Array:
		ok = raw[0] == '['
	case reflect.String:
		ok = raw[0] == '"'
	case reflect.Bool:
		ok = raw[0] == 't' || raw[0] == 'f'
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		_, err := strconv.ParseInt(string(raw), 10, t.Bits())
		ok = err == nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		_, err := strconv.ParseUint(string(raw), 10, t.Bits())
		ok = err == nil
	case reflect.Float32, reflect.Float64:
		ok = raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9'
	default:
		return "", true
	}
	return jsonKind(t.Kind().String()), ok
}

// jsonFields maps the JSON names of a struct's fields to their types, those
// of embedded structs included, as encoding/json sees them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if ft := f.Type; f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for n, t := range jsonFields(ft) {
					if _, ok := out[n]; !ok {
						out[n] = t
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func jsonKind(k string) string {
	switch k {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "ptr", "map":
		return "an object"
	}
	return "of another type"
}
