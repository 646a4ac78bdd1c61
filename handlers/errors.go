package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	shelfmetrics "github.com/shelfcommerce/shelf/internal/metrics"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

// problemDoc is an RFC 9457 problem document.
type problemDoc struct {
	Type      string               `json:"type"`
	Title     string               `json:"title"`
	Status    int                  `json:"status"`
	Detail    string               `json:"detail,omitempty"`
	RequestID string               `json:"request_id"`
	Errors    []problem.FieldError `json:"errors,omitempty"`
}

var statusKind = map[int]problem.Kind{
	http.StatusBadRequest:            problem.Invalid,
	http.StatusNotFound:              problem.NotFound,
	http.StatusMethodNotAllowed:      "method-not-allowed",
	http.StatusRequestEntityTooLarge: problem.TooLarge,
	http.StatusUnsupportedMediaType:  problem.Unsupported,
	http.StatusTooManyRequests:       problem.TooManyRequests,
	http.StatusUnauthorized:          problem.Unauthorized,
	http.StatusForbidden:             problem.Forbidden,
	http.StatusServiceUnavailable:    problem.Unavailable,
}

// ProblemType is the "type" URI of a problem kind, relative to the API root.
func ProblemType(k problem.Kind) string { return "/problems/" + string(k) }

// ErrorHandler is echo's one error handler: every error a handler or
// middleware returns becomes an application/problem+json response here.
// Domain errors (*problem.Error) keep their message; echo's own errors keep
// their status; anything else is logged with the request id and answered
// with a bare 500 that leaks no SQL or driver text.
func (a *API) ErrorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if errors.Is(err, context.Canceled) {
		// The client went away; nobody will read an answer.
		a.log.InfoContext(c.Request().Context(), "request canceled by client")
		return
	}
	if u := store.Unavailable(err); u != err {
		a.log.WarnContext(c.Request().Context(), "database unavailable", "err", err.Error(),
			"method", c.Request().Method, "path", c.Path())
		err = u
	}
	doc := problemDoc{RequestID: requestIDOf(c)}
	var extra map[string]any
	var pe *problem.Error
	var he *echo.HTTPError
	var mbe *http.MaxBytesError
	switch {
	case asProblem(err, &pe):
		doc = problemDocOf(pe, doc.RequestID)
		extra = pe.Extra
		setRetryAfter(c, pe)
	case errors.As(err, &mbe):
		doc.Status = http.StatusRequestEntityTooLarge
		doc.Type = ProblemType(problem.TooLarge)
		doc.Detail = fmt.Sprintf("the request body is larger than the limit of %d bytes", mbe.Limit)
	case errors.As(err, &he):
		doc.Status = he.Code
		k, ok := statusKind[he.Code]
		if !ok {
			k = "http-error"
		}
		doc.Type = ProblemType(k)
		if he.Code == http.StatusMethodNotAllowed {
			allowHead(c)
		}
		if he.Code == http.StatusRequestEntityTooLarge {
			doc.Detail = "the request body is too large"
		} else if msg, ok := he.Message.(string); ok && he.Code < 500 {
			doc.Detail = msg
		}
	default:
		doc.Status = http.StatusInternalServerError
		doc.Type = ProblemType("internal")
		a.log.ErrorContext(c.Request().Context(), "internal error", "err", err.Error(),
			"method", c.Request().Method, "path", c.Path())
	}
	if doc.Title == "" {
		doc.Title = http.StatusText(doc.Status)
	}
	writeProblem(c, doc, extra)
}

// allowHead adds HEAD to the Allow header of a 405 where GET is allowed:
// headAsGet answers HEAD on every GET route but the event stream, and echo's
// router, which set the header, knows only the GET.
func allowHead(c echo.Context) {
	h := c.Response().Header()
	methods := strings.Split(h.Get(echo.HeaderAllow), ", ")
	if slices.Contains(methods, http.MethodGet) && !slices.Contains(methods, http.MethodHead) && c.Request().URL.Path != "/v1/events" {
		h.Set(echo.HeaderAllow, strings.Join(append(methods, http.MethodHead), ", "))
	}
}

// setRetryAfter sends Retry-After for a problem that says when to retry,
// and for every 503.
func setRetryAfter(c echo.Context, pe *problem.Error) {
	d := pe.RetryAfter
	if d <= 0 && pe.Kind == problem.Unavailable {
		d = time.Second
	}
	if d > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	}
}

func asProblem(err error, pe **problem.Error) bool {
	var ok bool
	*pe, ok = problem.As(err)
	return ok
}

// problemDocOf is the document for a domain error.
func problemDocOf(pe *problem.Error, requestID string) problemDoc {
	doc := problemDoc{RequestID: requestID, Status: problem.KindStatus(pe.Kind)}
	doc.Type = ProblemType(pe.Kind)
	doc.Title = pe.Title
	if doc.Title == "" {
		doc.Title = http.StatusText(doc.Status)
	}
	doc.Detail = pe.Detail
	doc.Errors = pe.Errors
	if doc.Detail == "" && len(pe.Errors) > 0 {
		doc.Detail = fieldsDetail(pe.Errors)
	}
	return doc
}

// fieldsDetail is the one-sentence detail of a document that only listed
// field errors, so that a client which logs "detail" alone still learns
// which fields to fix: "min_price: must be a decimal number", or
// "3 fields are invalid: limit, sort, colour".
func fieldsDetail(errs []problem.FieldError) string {
	if len(errs) == 1 {
		return errs[0].Field + ": " + errs[0].Message
	}
	names := make([]string, 0, len(errs))
	seen := map[string]bool{}
	for _, e := range errs {
		if !seen[e.Field] {
			seen[e.Field] = true
			names = append(names, e.Field)
		}
	}
	return fmt.Sprintf("%d fields are invalid: %s", len(names), strings.Join(names, ", "))
}

// problemBody encodes a document with its kind-specific members merged in.
func problemBody(doc problemDoc, extra map[string]any) []byte {
	if len(extra) == 0 {
		body, _ := json.Marshal(doc)
		return body
	}
	m := map[string]any{}
	b, _ := json.Marshal(doc)
	_ = json.Unmarshal(b, &m)
	for k, v := range extra {
		m[k] = v
	}
	body, _ := json.Marshal(m)
	return body
}

// renderProblem returns exactly what ErrorHandler answers for a domain error
// (status and body), for the order service to store under an
// Idempotency-Key and replay byte for byte. Other errors are 500s.
func (a *API) renderProblem(ctx context.Context, err error) (int, []byte) {
	pe, ok := problem.As(err)
	if !ok {
		return http.StatusInternalServerError, nil
	}
	doc := problemDocOf(pe, RequestID(ctx))
	return doc.Status, problemBody(doc, pe.Extra)
}

func writeProblem(c echo.Context, doc problemDoc, extra map[string]any) {
	body := problemBody(doc, extra)
	if doc.Status == http.StatusServiceUnavailable {
		shelfmetrics.Unavailable.Inc()
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	if c.Request().Method == http.MethodHead {
		c.Response().WriteHeader(doc.Status)
		return
	}
	_ = c.Blob(doc.Status, "application/problem+json", body)
}

// recover turns a panic into a logged 500 instead of a dropped connection.
func (a *API) recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				a.log.ErrorContext(c.Request().Context(), "panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}
