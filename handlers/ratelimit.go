package handlers

import (
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/shelfcommerce/shelf/internal/problem"
)

// maxTrackedClients bounds a limiter's memory: a flood of distinct (even
// forged IPv6) addresses can make it forget some buckets early, never grow.
const maxTrackedClients = 50_000

// limiter is a token bucket per client address (golang.org/x/time/rate),
// perMinute tokens refilled evenly over a minute, burst perMinute. Buckets
// that are full again carry no information and are dropped; the store never
// holds more than maxTrackedClients. A nil *limiter allows everything.
type limiter struct {
	every time.Duration // refill of one token
	burst int
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// newLimiter returns a limiter of perMinute events per address, or nil
// (no limit) for 0.
func newLimiter(perMinute int, now func() time.Time) *limiter {
	if perMinute <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &limiter{every: time.Minute / time.Duration(perMinute), burst: perMinute, now: now,
		clients: make(map[string]*bucket)}
}

// clientKey is the bucket of an address: the address itself for IPv4, its
// /64 for IPv6, since one subscriber typically holds a whole /64.
func clientKey(ip string) string {
	a := net.ParseIP(ip)
	if a == nil || a.To4() != nil {
		return ip
	}
	return a.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// bucketOf returns (creating) the bucket of key; l.mu is held.
func (l *limiter) bucketOf(key string, t time.Time) *bucket {
	b, ok := l.clients[key]
	if ok {
		b.seen = t
		return b
	}
	full := time.Duration(l.burst) * l.every // a bucket idle this long is full again
	if len(l.clients) >= maxTrackedClients || t.Sub(l.swept) > full {
		for k, o := range l.clients {
			if t.Sub(o.seen) > full {
				delete(l.clients, k)
			}
		}
		l.swept = t
		for k := range l.clients { // still full: forget arbitrary buckets
			if len(l.clients) < maxTrackedClients {
				break
			}
			delete(l.clients, k)
		}
	}
	b = &bucket{lim: rate.NewLimiter(rate.Every(l.every), l.burst), seen: t}
	l.clients[key] = b
	return b
}

// take spends one token of ip's bucket; when none is left it returns how
// long until one is, and spends nothing.
func (l *limiter) take(ip string) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.now()
	b := l.bucketOf(clientKey(ip), t)
	r := b.lim.ReserveN(t, 1)
	if d := r.DelayFrom(t); d > 0 {
		r.CancelAt(t)
		return false, d
	}
	return true, 0
}

// wait reports, without spending anything, how long until ip has a token
// again (0: it has one now).
func (l *limiter) wait(ip string) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.now()
	b, ok := l.clients[clientKey(ip)]
	if !ok || b.lim.TokensAt(t) >= 1 {
		return 0
	}
	return time.Duration((1 - b.lim.TokensAt(t)) * float64(l.every))
}

// tooManyRequests is the 429 for a client over a limit, with Retry-After in
// whole seconds (at least 1).
func tooManyRequests(c echo.Context, retryAfter time.Duration, what string) error {
	secs := int((retryAfter + time.Second - 1) / time.Second)
	secs = max(secs, 1)
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return problem.New(problem.TooManyRequests, "too many %s from your address; retry in %d s", what, secs)
}
