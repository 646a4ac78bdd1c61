package handlers

import (
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A flood of idle connections from one address cannot lock out a buyer: the
// flood holds at most PerIP of them, the rest are closed at once, and a
// request from another address is answered.
func TestIdleConnectionFloodDoesNotLockOutOthers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const perIP = 8
	ln = LimitListener(ln, ConnLimits{Max: 32, PerIP: perIP})
	srv := NewServer("", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		Timeouts{Read: 10 * time.Second, Write: 10 * time.Second, Idle: time.Minute})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := ln.Addr().String()

	var flood []net.Conn
	for range 50 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		flood = append(flood, c)
		t.Cleanup(func() { _ = c.Close() })
	}
	// The server closes every flood connection over the cap: reading one
	// returns EOF (or a reset) instead of waiting for the read deadline.
	// All are read at once, inside the server's 5 s ReadHeaderTimeout,
	// which would close the admitted ones too, and long enough for a loaded
	// server to have accepted (and refused) every one.
	var open atomic.Int32
	var wg sync.WaitGroup
	deadline := time.Now().Add(4 * time.Second)
	for _, c := range flood {
		wg.Go(func() {
			_ = c.SetReadDeadline(deadline)
			if _, err := c.Read(make([]byte, 1)); isTimeout(err) {
				open.Add(1)
			}
		})
	}
	wg.Wait()
	if n := open.Load(); n > perIP {
		t.Fatalf("one address holds %d idle connections, cap %d", n, perIP)
	}
	// Another address (Linux routes all of 127/8 to loopback) gets served.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 30 * time.Second}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 30 * time.Second}
	res, err := client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("a buyer from another address: %v", err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("a buyer from another address: %d", res.StatusCode)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
