// Package problem is the one error type Shelf's domain code returns when a
// request cannot be served as asked. It carries a kind (mapped to an HTTP
// status in exactly one place, Status, which the one error handler uses), the
// offending fields, and a message safe to show a client. Errors of other
// packages that mean something to a client (the database is busy, the file
// cannot be imported) implement Problem and so go through the same table.
// Any other error is a bug or an outage and is answered with a bare 500.
package problem

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Kind classifies an error by what the client can do about it.
type Kind string

const (
	Invalid            Kind = "invalid"                // 400: malformed request (query string, syntax)
	Unprocessable      Kind = "unprocessable"          // 422: well-formed but breaks a rule (validation)
	NotFound           Kind = "not-found"              // 404
	Conflict           Kind = "conflict"               // 409: the state of the resource forbids it
	PreconditionFailed Kind = "precondition-failed"    // 412: If-Match did not match
	Unauthorized       Kind = "unauthorized"           // 401
	Forbidden          Kind = "forbidden"              // 403
	TooLarge           Kind = "payload-too-large"      // 413
	Unsupported        Kind = "unsupported-media"      // 415
	TooManyRequests    Kind = "too-many-requests"      // 429: over a rate limit; Retry-After says when
	Unavailable        Kind = "service-unavailable"    // 503: try again later
	InsufficientStock  Kind = "insufficient-stock"     // 409 with the short SKUs
	IdempotencyInUse   Kind = "idempotency-key-in-use" // 409: the first request is still running
)

// FieldError names one field and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a client-facing error.
type Error struct {
	Kind   Kind
	Title  string         // short summary; defaults from Kind
	Detail string         // one sentence for a human
	Errors []FieldError   // per-field errors, if any
	Extra  map[string]any // extra members of the problem document (e.g. "current_state")
	// RetryAfter is sent as the Retry-After header when positive (a 503
	// gets one second when it names none).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if len(e.Errors) == 1 && e.Detail == "" {
		return fmt.Sprintf("%s: %s %s", e.Kind, e.Errors[0].Field, e.Errors[0].Message)
	}
	if e.Detail != "" {
		return string(e.Kind) + ": " + e.Detail
	}
	return string(e.Kind)
}

// New returns an error of kind k with a detail message.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Detail: fmt.Sprintf(format, args...)}
}

// Field returns an error of kind k about one field.
func Field(k Kind, field, message string) *Error {
	return &Error{Kind: k, Errors: []FieldError{{Field: field, Message: message}}}
}

// Fields collects per-field errors; Err returns nil when there were none, so
// validation code can report every bad field at once.
type Fields struct {
	Kind   Kind
	Errors []FieldError
}

// Add records that field is wrong.
func (f *Fields) Add(field, message string) { f.Errors = append(f.Errors, FieldError{field, message}) }

// Err returns the collected errors as one *Error, or nil.
func (f *Fields) Err() error {
	if len(f.Errors) == 0 {
		return nil
	}
	k := f.Kind
	if k == "" {
		k = Unprocessable
	}
	return &Error{Kind: k, Errors: f.Errors}
}

// Problem is implemented by errors of other packages that stand for a
// client-facing problem, so that they are answered through the one table
// without the HTTP layer knowing each of them.
type Problem interface {
	error
	Problem() *Error
}

// As returns the *Error in err's chain, or the one a Problem in it stands
// for, if any.
func As(err error) (*Error, bool) {
	var pe *Error
	if errors.As(err, &pe) {
		return pe, true
	}
	var p Problem
	if errors.As(err, &p) {
		if pe = p.Problem(); pe != nil {
			return pe, true
		}
	}
	return nil, false
}

// statusOf is the single table from error kind to HTTP status.
var statusOf = map[Kind]int{
	Invalid:            http.StatusBadRequest,
	Unprocessable:      http.StatusUnprocessableEntity,
	NotFound:           http.StatusNotFound,
	Conflict:           http.StatusConflict,
	PreconditionFailed: http.StatusPreconditionFailed,
	Unauthorized:       http.StatusUnauthorized,
	Forbidden:          http.StatusForbidden,
	TooLarge:           http.StatusRequestEntityTooLarge,
	Unsupported:        http.StatusUnsupportedMediaType,
	TooManyRequests:    http.StatusTooManyRequests,
	Unavailable:        http.StatusServiceUnavailable,
	InsufficientStock:  http.StatusConflict,
	IdempotencyInUse:   http.StatusConflict,
}

// KindStatus is the HTTP status of a kind; an unknown kind is a 400.
func KindStatus(k Kind) int {
	if s, ok := statusOf[k]; ok {
		return s
	}
	return http.StatusBadRequest
}

// Status is the HTTP status an error is answered with: its problem's, or
// 500 for an error that is no problem of the client's.
func Status(err error) int {
	if pe, ok := As(err); ok {
		return KindStatus(pe.Kind)
	}
	return http.StatusInternalServerError
}

// Is reports whether err is a problem of kind k.
func Is(err error, k Kind) bool {
	pe, ok := As(err)
	return ok && pe.Kind == k
}
