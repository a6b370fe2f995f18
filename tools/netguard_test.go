package tools

import (
	"net/netip"
	"testing"
)

func TestClassifyAddr(t *testing.T) {
	refused := []string{
		"10.0.0.1", "10.255.255.255",
		"172.16.0.1", "172.31.255.254",
		"192.168.1.1",
		"127.0.0.1", "127.1.2.3",
		"169.254.169.254", "169.254.0.1",
		"100.64.0.1", "100.127.255.254",
		"0.0.0.0", "0.1.2.3",
		"224.0.0.1", "239.255.255.250",
		"255.255.255.255", "240.0.0.1",
		"192.0.2.1", "198.18.0.1",
		"::1", "::",
		"fe80::1", "fe80::1%eth0",
		"fc00::1", "fd12:3456::1",
		"ff02::1",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0",
		"::127.0.0.1",
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
		"2002:7f00:1::1", "2002:a00:1::1",
		"2001:db8::1",
	}
	allowed := []string{
		"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "169.255.0.1", "11.0.0.1",
		"2606:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	}
	for _, s := range refused {
		if reason := classifyAddr(netip.MustParseAddr(s)); reason == "" {
			t.Errorf("%s: allowed, want refused", s)
		}
	}
	for _, s := range allowed {
		if reason := classifyAddr(netip.MustParseAddr(s)); reason != "" {
			t.Errorf("%s: refused (%s), want allowed", s, reason)
		}
	}
	if classifyAddr(netip.Addr{}) == "" {
		t.Errorf("zero Addr allowed")
	}
	if got := classifyAddr(netip.MustParseAddr("169.254.169.254")); got != "link-local address (includes cloud metadata services)" {
		t.Errorf("reason = %q", got)
	}
}

func TestGuardControl(t *testing.T) {
	guard := guardControl(func(ap netip.AddrPort) bool { return ap == netip.MustParseAddrPort("127.0.0.1:8080") })
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8080", true}, // exempted
		{"127.0.0.1:8081", false},
		{"[::ffff:127.0.0.1]:8080", false}, // the exemption is exact; the mapped form is not it
		{"[fe80::1%lo]:80", false},
		{"8.8.8.8:443", true},
		{"[2606:4700::1111]:443", true},
		{"not-an-address", false},
		{"example.com:80", false},
	}
	for _, tc := range tests {
		err := guard("tcp", tc.addr, nil)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.addr, err, tc.ok)
		}
	}
}
