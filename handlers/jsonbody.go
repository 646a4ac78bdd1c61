package handlers

import (
	"bytes"
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
		var fe problem.Fields
		fe.Kind = problem.Invalid
		exactKeys(body, reflect.TypeOf(v), "", &fe)
		return fe.Err()
	}
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return problem.Field(problem.Invalid, te.Field, fmt.Sprintf("must be %s", jsonKind(te.Type.Kind().String())))
	case errors.As(err, &se):
		return problem.New(problem.Invalid, "the request body is not valid JSON (at byte %d)", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
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

// exactKeys walks a decoded body next to the type it was decoded into and
// reports every object key that matches a field only case-insensitively,
// which encoding/json accepts and this API does not.
func exactKeys(raw []byte, t reflect.Type, path string, fe *problem.Fields) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType {
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
			for name := range fields {
				if strings.EqualFold(name, k) {
					fe.Add(path+k, fmt.Sprintf("is not a field of this request; field names are case-sensitive: %q", name))
				}
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

// jsonFields maps the JSON names of a struct's exported fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
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
	case "int", "int32", "int64", "uint64":
		return "a whole number"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "ptr":
		return "an object"
	}
	return "of another type"
}
