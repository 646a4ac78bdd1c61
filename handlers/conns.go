package handlers

import (
	"net"
	"sync"
)

// ConnLimits caps the server's open client connections, so that a flood of
// idle or half-open connections cannot use up the process's file
// descriptors (every connection is one) and lock out everyone else.
type ConnLimits struct {
	// Max open connections in all (0: no cap). At the cap the listener stops
	// accepting: further connections wait in the kernel's accept queue,
	// costing the process nothing, until a slot frees up (the server's
	// ReadHeaderTimeout closes a connection that sends no request in 5 s).
	Max int
	// PerIP open connections from one peer address (an IPv6 /64 counts as
	// one address; 0: no cap). A connection over it is closed at once.
	PerIP int
	// Trusted peers (the reverse proxies of SHELF_TRUSTED_PROXIES) are
	// exempt from PerIP: all of a proxy's clients arrive from its address.
	Trusted []*net.IPNet
}

// LimitListener wraps ln with the caps of l.
func LimitListener(ln net.Listener, l ConnLimits) net.Listener {
	if l.Max <= 0 && l.PerIP <= 0 {
		return ln
	}
	cl := &capListener{Listener: ln, limits: l, done: make(chan struct{}), perIP: map[string]int{}}
	if l.Max > 0 {
		cl.slots = make(chan struct{}, l.Max)
	}
	return cl
}

type capListener struct {
	net.Listener
	limits ConnLimits
	slots  chan struct{} // one token per open connection; nil: no total cap
	done   chan struct{}
	close  sync.Once

	mu    sync.Mutex
	perIP map[string]int
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		if l.slots != nil {
			select {
			case l.slots <- struct{}{}:
			case <-l.done:
				return nil, net.ErrClosed
			}
		}
		c, err := l.Listener.Accept()
		if err != nil {
			l.release()
			return nil, err
		}
		key, ok := l.admit(c)
		if !ok {
			_ = c.Close()
			l.release()
			continue
		}
		return &capConn{Conn: c, l: l, key: key}, nil
	}
}

// admit counts c against its peer's cap; it returns the peer's key ("" when
// not counted) and false when the peer is over the cap.
func (l *capListener) admit(c net.Conn) (string, bool) {
	if l.limits.PerIP <= 0 {
		return "", true
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return "", true
	}
	if ip := net.ParseIP(host); ip != nil {
		for _, n := range l.limits.Trusted {
			if n.Contains(ip) {
				return "", true
			}
		}
	}
	key := clientKey(host)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[key] >= l.limits.PerIP {
		return "", false
	}
	l.perIP[key]++
	return key, true
}

func (l *capListener) release() {
	if l.slots != nil {
		<-l.slots
	}
}

func (l *capListener) Close() error {
	l.close.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type capConn struct {
	net.Conn
	l    *capListener
	key  string
	once sync.Once
}

func (c *capConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if c.key != "" {
			c.l.mu.Lock()
			if c.l.perIP[c.key]--; c.l.perIP[c.key] <= 0 {
				delete(c.l.perIP, c.key)
			}
			c.l.mu.Unlock()
		}
		c.l.release()
	})
	return err
}
