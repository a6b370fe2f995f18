package tools

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// blockedRange is an address range http_get refuses unless private networks are allowed.
type blockedRange struct {
	prefix netip.Prefix
	reason string
}

// blockedRanges lists everything that is not an ordinary public unicast address: where a
// request could reach the host itself, its network, a cloud metadata service, or a range with
// special routing. Prefixes are checked after unmapping IPv4-mapped IPv6 addresses.
var blockedRanges = func() []blockedRange {
	list := []struct{ prefix, reason string }{
		{"0.0.0.0/8", "unspecified or \"this network\" address"},
		{"10.0.0.0/8", "private network address (RFC 1918)"},
		{"100.64.0.0/10", "carrier-grade NAT address (RFC 6598)"},
		{"127.0.0.0/8", "loopback address"},
		{"169.254.0.0/16", "link-local address (includes cloud metadata services)"},
		{"172.16.0.0/12", "private network address (RFC 1918)"},
		{"192.0.0.0/24", "IETF protocol assignment address"},
		{"192.0.2.0/24", "documentation address"},
		{"192.88.99.0/24", "6to4 relay anycast address"},
		{"192.168.0.0/16", "private network address (RFC 1918)"},
		{"198.18.0.0/15", "benchmarking address"},
		{"198.51.100.0/24", "documentation address"},
		{"203.0.113.0/24", "documentation address"},
		{"224.0.0.0/4", "multicast address"},
		{"240.0.0.0/4", "reserved or broadcast address"},
		{"::/128", "unspecified address"},
		{"::1/128", "loopback address"},
		// IPv4-compatible addresses are deprecated; some stacks still route them as IPv4.
		{"::/96", "IPv4-compatible address"},
		{"64:ff9b:1::/48", "local-use NAT64 address"},
		{"100::/64", "discard-only address"},
		{"2001:db8::/32", "documentation address"},
		{"fc00::/7", "unique local address (private network)"},
		{"fe80::/10", "link-local address"},
		{"fec0::/10", "site-local address"},
		{"ff00::/8", "multicast address"},
	}
	out := make([]blockedRange, len(list))
	for i, b := range list {
		out[i] = blockedRange{netip.MustParsePrefix(b.prefix), b.reason}
	}
	return out
}()

// IPv6 forms that carry an IPv4 destination: a NAT64 gateway forwards to the IPv4 address in
// the low 32 bits, a 6to4 address tunnels to the one in bits 16-47. The embedded address must
// pass the same check, or ::ffff:-style tricks would work through them.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// classifyAddr returns why a connection to a is refused, or "" when a is a public address.
func classifyAddr(a netip.Addr) string {
	if !a.IsValid() {
		return "invalid address"
	}
	a = a.WithZone("").Unmap()
	if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		if reason := classifyAddr(netip.AddrFrom4([4]byte(b[12:]))); reason != "" {
			return "NAT64 form of a " + reason
		}
		return ""
	}
	if a.Is6() && sixToFour.Contains(a) {
		b := a.As16()
		if reason := classifyAddr(netip.AddrFrom4([4]byte(b[2:6]))); reason != "" {
			return "6to4 form of a " + reason
		}
		return ""
	}
	for _, b := range blockedRanges {
		if b.prefix.Contains(a) {
			return b.reason
		}
	}
	return ""
}

// blockedError is returned by the dialer for a refused address.
type blockedError struct {
	addr   netip.Addr
	reason string
}

func (e *blockedError) Error() string {
	return fmt.Sprintf("refused to connect to %s: %s", e.addr, e.reason)
}

// Blocked marks the error for callers outside the package: a refused address is final, never
// worth a retry.
func (e *blockedError) Blocked() bool { return true }

// guardedTransport dials only addresses the guard accepts (all of them when allowPrivate).
func guardedTransport(timeout time.Duration, allowPrivate bool, allow func(netip.AddrPort) bool) *http.Transport {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = guardControl(allow)
	}
	return &http.Transport{
		// No proxy, whatever the environment says: through a proxy the dialled address would be
		// the proxy's, and the proxy would resolve and reach the target unchecked.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           16,
		IdleConnTimeout:        90 * time.Second,
	}
}

// GuardedClient is the HTTP client for requests whose destination a user or a model chose
// (pipeline actions, scheduled calls): like http_get, it refuses loopback, private, link-local
// and other internal addresses at connect time, redirects included, unless allowPrivate.
func GuardedClient(timeout time.Duration, allowPrivate bool) *http.Client {
	if timeout <= 0 {
		timeout = defaultHTTPTimeout
	}
	return &http.Client{Transport: guardedTransport(timeout, allowPrivate, nil), Timeout: timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > httpMaxRedirects {
				return &redirectError{fmt.Sprintf("stopped after %d redirects", httpMaxRedirects)}
			}
			return checkURL(req.URL)
		}}
}

// guardControl returns a net.Dialer Control function that vets the address actually being
// connected to. It runs after name resolution and before connect(2), once per address tried,
// so a DNS answer that changes between a check and the dial (rebinding) cannot slip past it.
// allow, when set, exempts exact address:port pairs; tests use it to stand in a public server.
func guardControl(allow func(netip.AddrPort) bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			// Fail closed: an address the guard cannot read is an address it cannot vouch for.
			host, _, splitErr := net.SplitHostPort(address)
			if splitErr != nil {
				host = address
			}
			a, _ := netip.ParseAddr(host)
			return &blockedError{addr: a, reason: "address could not be checked"}
		}
		if allow != nil && allow(ap) {
			return nil
		}
		if reason := classifyAddr(ap.Addr()); reason != "" {
			return &blockedError{addr: ap.Addr(), reason: reason}
		}
		return nil
	}
}
