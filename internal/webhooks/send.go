package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/db"
)

// outcome is what one attempt gave.
type outcome struct {
	status int // 0: no HTTP answer
	err    string
	took   time.Duration
}

func (o outcome) ok() bool { return o.status >= 200 && o.status < 300 }

// attempt is a made attempt, to be recorded.
type attempt struct {
	job
	outcome
}

// attempt makes one claimed attempt, or settles it without one: the event
// is gone. A job whose webhook was removed is recorded as nothing.
func (d *Dispatcher) attempt(ctx context.Context, j job) attempt {
	a := attempt{job: j}
	switch {
	case j.webhook == nil:
	case j.body == nil:
		a.err = "the event is older than the feed's retention and was deleted"
	default:
		a.outcome = d.send(ctx, *j.webhook, j.EventSeq, []byte(*j.body))
	}
	return a
}

// send POSTs one event, signed, and reads at most bodyLimit of the answer.
func (d *Dispatcher) send(ctx context.Context, wh db.Webhook, seq uint64, body []byte) outcome {
	start := time.Now()
	id := strconv.FormatUint(seq, 10)
	sig, err := signature(wh.Secret, id, start.Unix(), body)
	if err != nil {
		return outcome{err: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.Url, bytes.NewReader(body))
	if err != nil {
		return outcome{err: "bad URL: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Shelf-Webhooks/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(start.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := d.client.Do(req)
	if err != nil {
		return outcome{err: err.Error(), took: time.Since(start)}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, bodyLimit))
	out := outcome{status: resp.StatusCode, took: time.Since(start)}
	if !out.ok() {
		out.err = fmt.Sprintf("answered %s", resp.Status)
		if loc := resp.Header.Get("Location"); loc != "" {
			out.err += " to " + loc + " (redirects are not followed)"
		}
		if s := strings.TrimSpace(strings.ToValidUTF8(string(answer), "")); s != "" {
			out.err += ": " + s
		}
	}
	return out
}
