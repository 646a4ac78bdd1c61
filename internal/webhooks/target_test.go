package webhooks

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/problem"
)

func TestCheckPublic(t *testing.T) {
	t.Parallel()
	for addr, public := range map[string]bool{
		"93.184.216.34": true, "8.8.8.8": true, "2606:4700:4700::1111": true, "1.1.1.1": true,
		"127.0.0.1": false, "127.8.9.10": false, "::1": false, "0.0.0.0": false, "::": false,
		"10.1.2.3": false, "172.16.0.1": false, "172.31.255.255": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fd00:ec2::254": false, "fc00::1": false,
		"100.64.0.1": false, "100.127.255.254": false, "224.0.0.1": false, "ff02::1": false,
		"255.255.255.255": false, "240.0.0.1": false, "198.18.0.1": false, "192.0.2.1": false,
		"::ffff:127.0.0.1": false, "::ffff:169.254.169.254": false, "::ffff:10.0.0.1": false,
		"::ffff:93.184.216.34": true, "64:ff9b::7f00:1": false, "64:ff9b::5db8:d822": true,
		"2002:7f00:1::": false, "2002:a00:1::": false, "::127.0.0.1": false, "2001:db8::1": false,
		"2001:0:4136:e378:8000:63bf:3fff:fdd2": false, // Teredo
		"172.15.255.255":                       true, "172.32.0.0": true, "100.63.255.255": true, "100.128.0.0": true,
	} {
		err := checkPublic(netip.MustParseAddr(addr))
		if (err == nil) != public {
			t.Errorf("checkPublic(%s) = %v, want public=%v", addr, err, public)
		}
	}
}

func TestRegistrationRefusesNonPublicTargets(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{Resolver: fakeDNS{
		"localhost": "127.0.0.1", "hooks.internal.example": "10.0.0.7", "hooks.example.com": "93.184.216.34",
	}})
	ctx := context.Background()
	for url, want := range map[string]string{
		"https://127.0.0.1/hooks":                                "loopback",
		"https://localhost:8443/hooks":                           "loopback",
		"https://169.254.169.254/latest/meta-data":               "link-local",
		"https://[::ffff:127.0.0.1]/hooks":                       "loopback",
		"https://[::1]/":                                         "loopback",
		"https://hooks.internal.example/x":                       "private",
		"https://100.64.1.1/":                                    "carrier-grade NAT",
		"https://0.0.0.0/":                                       "unspecified",
		"http://hooks.example.com/x":                             "https",
		"ftp://hooks.example.com/x":                              "https",
		"https://user:pw@hooks.example.com/x":                    "password",
		"https://nowhere.example/x":                              "does not resolve",
		"hooks.example.com/x":                                    "absolute",
		"":                                                       "required",
		"https://hooks.example.com/x#frag":                       "fragment",
		"https://hooks.example.com/" + strings.Repeat("a", 2048): "2048",
	} {
		_, err := s.Register(ctx, Registration{URL: url})
		pe, ok := problem.As(err)
		if !ok || pe.Kind != problem.Unprocessable || len(pe.Errors) != 1 || pe.Errors[0].Field != "url" ||
			!strings.Contains(pe.Errors[0].Message, want) {
			t.Errorf("Register(%q) = %v, want a 422 on url saying %q", url, err, want)
		}
	}
	if w, err := s.Register(ctx, Registration{URL: "https://hooks.example.com/x"}); err != nil || !strings.HasPrefix(w.Secret, "whsec_") {
		t.Errorf("a public https URL was refused: %v", err)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM webhooks"); n != 1 {
		t.Errorf("%d webhooks stored, want the one good one", n)
	}
}

func TestRegistrationValidatesEvents(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, fast())
	ctx := context.Background()
	_, err := s.Register(ctx, Registration{URL: "http://127.0.0.1:1/", Events: []string{"stock.changed", "stock.change", "*"}})
	pe, ok := problem.As(err)
	if !ok || len(pe.Errors) != 2 || pe.Errors[0].Field != "events[1]" || pe.Errors[1].Field != "events[2]" {
		t.Fatalf("err = %v, want 422s naming events[1] and events[2]", err)
	}
	for in, want := range map[string]string{"": "*", "*": "*", "stock.changed,order.paid,stock.changed": "order.paid,stock.changed"} {
		var evs []string
		if in != "" {
			evs = strings.Split(in, ",")
		}
		w, err := s.Register(ctx, Registration{URL: "http://127.0.0.1:1/", Events: evs})
		if err != nil || strings.Join(w.Events, ",") != want {
			t.Errorf("events %q registered as %v (%v), want %s", in, w, err, want)
		}
	}
}

// The address check that matters is the one in the dialer, after DNS: a
// name that answered a public address at registration and a loopback one
// when dialled (DNS rebinding) is refused, and nothing reaches the target.
func TestTheDialerRefusesNonPublicAddressesAfterDNS(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	rcv := newReceiver(t, func(string, int) int { return 200 })
	port := rcv.Listener.Addr().(interface{ String() string }).String()
	port = port[strings.LastIndex(port, ":")+1:]
	s := NewService(d.Store, Config{Resolver: fakeDNS{"hooks.example.com": "93.184.216.34"}})
	wh := register(t, s, "https://hooks.example.com:"+port+"/x")

	cfg := Config{Schedule: []time.Duration{}, Poll: 5 * time.Millisecond, Timeout: 5 * time.Second,
		Resolver: fakeDNS{"hooks.example.com": "127.0.0.1"}}
	addEvents(t, d, "stock.changed", 1)
	run(t, d.Store, cfg)
	eventually(t, "the refused attempt logged", func() bool { return len(deliveries(t, s, wh.ID)) == 1 })
	got := deliveries(t, s, wh.ID)[0]
	if got.ResponseStatus != nil || got.Error == nil || !strings.Contains(*got.Error, "loopback") {
		t.Errorf("logged %+v, want a refusal naming the loopback address", got)
	}
	if hits, _ := rcv.snapshot(); len(hits) != 0 {
		t.Errorf("the loopback receiver got %d requests", len(hits))
	}

	// And the dialer on its own, for each kind of address.
	dl := newDialer(false, fakeDNS{"localhost": "127.0.0.1", "metadata.internal": "169.254.169.254"}, time.Second)
	for _, addr := range []string{"127.0.0.1:" + port, "localhost:" + port, "[::ffff:127.0.0.1]:" + port, "169.254.169.254:80", "metadata.internal:80", "[::1]:" + port} {
		c, err := dl.DialContext(context.Background(), "tcp", addr)
		if c != nil {
			c.Close()
		}
		if !errors.Is(err, ErrNotPublic) {
			t.Errorf("dial %s = %v, want ErrNotPublic", addr, err)
		}
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	target := newReceiver(t, func(string, int) int { return 200 })
	redirector := newReceiver(t, func(string, int) int { return http.StatusTemporaryRedirect })
	redirector.Config.Handler = http.RedirectHandler(target.URL, http.StatusTemporaryRedirect)
	s, wh, got := oneAttempt(t, d, redirector.URL)
	if got.ResponseStatus == nil || *got.ResponseStatus != 307 || !strings.Contains(*got.Error, "not followed") {
		t.Errorf("logged %+v, want the 307 as a failed attempt", got)
	}
	if hits, _ := target.snapshot(); len(hits) != 0 {
		t.Errorf("the redirect was followed: the target got %d requests", len(hits))
	}
	if status(t, s, wh.ID) != "failing" {
		t.Errorf("one attempt and no retries left, but the webhook is not failing")
	}
}

// A receiver that answers with an endless body does not hold the
// dispatcher: it reads the first few KB, logs the start of them, and hangs
// up, so the receiver cannot write the rest.
func TestOnlyTheStartOfAnAnswerIsRead(t *testing.T) {
	d := dbtest.New(t)
	const total = 64 << 20
	wrote := make(chan int, 1)
	rcv := newReceiver(t, func(string, int) int { return 0 })
	rcv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		chunk := []byte(strings.Repeat("x", 32<<10))
		n := 0
		for n < total {
			m, err := w.Write(chunk)
			n += m
			if err != nil {
				break
			}
		}
		wrote <- n
	})
	_, _, got := oneAttempt(t, d, rcv.URL)
	if got.ResponseStatus == nil || *got.ResponseStatus != 500 || got.Error == nil ||
		!strings.Contains(*got.Error, "xxxx") || len(*got.Error) > 1024 {
		t.Errorf("logged %+v, want the 500 and the start of its body", got)
	}
	select {
	case n := <-wrote:
		if n >= total {
			t.Errorf("the receiver wrote its whole %d-byte answer: the dispatcher read it all", n)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the receiver is still writing its answer")
	}
}

// oneAttempt registers a webhook at url with no retries, queues one event
// and returns the logged attempt once it is made.
func oneAttempt(t *testing.T, d *dbtest.DB, url string) (*Service, *Webhook, *Delivery) {
	t.Helper()
	cfg := fast()
	s := NewService(d.Store, cfg)
	wh := register(t, s, url)
	addEvents(t, d, "stock.changed", 1)
	run(t, d.Store, cfg)
	eventually(t, "the attempt logged", func() bool { return len(deliveries(t, s, wh.ID)) == 1 })
	return s, wh, deliveries(t, s, wh.ID)[0]
}
