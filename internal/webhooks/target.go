package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/shelfcommerce/shelf/internal/problem"
)

// Resolver looks host names up; *net.Resolver is one. Tests pass their own
// to play DNS tricks (a name that answers a public address at registration
// and a loopback one when dialled).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// nonPublic lists the address ranges a webhook may not reach unless private
// targets are allowed: everything that is not the public internet, so that a
// registered URL cannot make the service call its own host, its network or
// the cloud's metadata endpoint (169.254.169.254 is link-local).
var nonPublic = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified (this-network) address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT (shared) address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address (cloud metadata lives there)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "a 6to4 relay address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("::/128"), "an unspecified address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("::/96"), "an IPv4-compatible address"},
	{netip.MustParsePrefix("100::/64"), "a discard-only address"},
	{netip.MustParsePrefix("2001::/23"), "an IETF protocol address (Teredo, ORCHID...)"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("fc00::/7"), "a private (unique local) address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// checkPublic returns nil when ip is a public unicast address, else an error
// that says what kind of address it is. IPv4 addresses written as IPv6
// (::ffff:127.0.0.1, NAT64 and 6to4 forms) are judged by the IPv4 address
// they carry.
func checkPublic(ip netip.Addr) error {
	ip = ip.WithZone("").Unmap()
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		ip = netip.AddrFrom4([4]byte(b[12:16]))
	case sixTo4.Contains(ip):
		ip = netip.AddrFrom4([4]byte(b[2:6]))
	}
	if !ip.IsValid() {
		return errors.New("not an IP address")
	}
	for _, n := range nonPublic {
		if n.prefix.Contains(ip) {
			return fmt.Errorf("%s is %s", ip, n.why)
		}
	}
	if ip.Is4() && ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Errorf("%s is the broadcast address", ip)
	}
	return nil
}

// ErrNotPublic wraps every refusal to reach a non-public address.
var ErrNotPublic = errors.New("webhook target is not a public address")

// controlPublic is the dialer's Control hook: it runs after DNS, on the
// address about to be connected, so a name that resolved to a public
// address at registration and to a private one now is still refused.
func controlPublic(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrNotPublic, address)
	}
	if err := checkPublic(ap.Addr()); err != nil {
		return fmt.Errorf("%w: %v (SHELF_WEBHOOK_ALLOW_PRIVATE=true allows it)", ErrNotPublic, err)
	}
	return nil
}

// dialer connects to webhook targets: each address the name resolves to is
// tried in turn, and with private targets refused, every one passes
// controlPublic first.
type dialer struct {
	net      net.Dialer
	resolver Resolver
}

func newDialer(allowPrivate bool, r Resolver, timeout time.Duration) *dialer {
	d := &dialer{net: net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}, resolver: r}
	if !allowPrivate {
		d.net.Control = controlPublic
	}
	return d
}

func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := lookup(ctx, d.resolver, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ip := range ips {
		c, err := d.net.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func lookup(ctx context.Context, r Resolver, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{ip}, nil
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err == nil && len(ips) == 0 {
		err = fmt.Errorf("%s has no address", host)
	}
	return ips, err
}

// checkURL validates a webhook URL at registration: absolute http(s) with a
// host and no credentials, https only and resolving to public addresses
// only unless private targets are allowed. It returns the URL as stored.
func checkURL(ctx context.Context, raw string, allowPrivate bool, r Resolver) (string, error) {
	bad := func(msg string) (string, error) { return "", problem.Field(problem.Unprocessable, "url", msg) }
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return bad("is required: the https URL that receives the events")
	}
	if len(raw) > 2048 {
		return bad("must be at most 2048 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return bad("must be an absolute URL such as https://example.com/hooks/shelf")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowPrivate:
	case u.Scheme == "http":
		return bad("must use https (SHELF_WEBHOOK_ALLOW_PRIVATE=true allows http, for development)")
	default:
		return bad("must be an https URL")
	}
	if u.User != nil {
		return bad("must not carry a user name or password")
	}
	if u.Fragment != "" {
		return bad("must not have a #fragment (it is never sent)")
	}
	if allowPrivate {
		return u.String(), nil
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := lookup(lctx, r, u.Hostname())
	if err != nil {
		return bad(fmt.Sprintf("host %q does not resolve", u.Hostname()))
	}
	for _, ip := range ips {
		if err := checkPublic(ip); err != nil {
			return bad(fmt.Sprintf("must reach a public address, but %s (SHELF_WEBHOOK_ALLOW_PRIVATE=true allows it, for development)", err))
		}
	}
	return u.String(), nil
}
