package provider

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// TestRefuseAddress: the addresses the outside-systems dialer refuses, as its Control sees
// them (resolved, IPv6 in brackets, maybe with a zone or IPv4-mapped), and the loopback and
// private ones it allows.
func TestRefuseAddress(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"169.254.169.254:80":          "169.254.169.254 is a link-local address (such as a cloud's metadata service): flowhook does not call it",
		"169.254.0.1:443":             "169.254.0.1 is a link-local address",
		"[::ffff:169.254.169.254]:80": "169.254.169.254 is a link-local address",
		"[fe80::1]:80":                "fe80::1 is a link-local address",
		"[fe80::a9fe:a9fe%eth0]:80":   "fe80::a9fe:a9fe%eth0 is a link-local address",
		"[febf::1]:80":                "febf::1 is a link-local address",
		"[fd00:ec2::254]:80":          "fd00:ec2::254 is a cloud's metadata service: flowhook does not call it",
		"100.100.100.200:80":          "100.100.100.200 is a cloud's metadata service",
		"224.0.0.1:80":                "224.0.0.1 is a multicast address: flowhook does not call it",
		"239.255.255.250:1900":        "239.255.255.250 is a multicast address",
		"[ff02::1]:80":                "ff02::1 is a multicast address",
		"0.0.0.0:8080":                "0.0.0.0 is an unspecified address: flowhook does not call it",
		"[::]:8080":                   ":: is an unspecified address",
		"[::ffff:0.0.0.0]:8080":       "is an unspecified address",
		"example.com:80":              `"example.com:80" is not an IP address and port`,
	} {
		err := refuseAddress("tcp", addr, nil)
		require.ErrorContains(t, err, want, addr)
		require.ErrorIs(t, err, engine.ErrProviderPermanent, addr)
	}
	for _, addr := range []string{
		"127.0.0.1:80", "127.0.0.2:8443", "[::1]:80", "10.0.0.1:80", "172.16.0.1:443", "192.168.1.10:80",
		"100.64.0.1:80", "[fd00::1]:80", "[fec0::1]:80", "93.184.216.34:443", "[2606:2800:220:1::1]:443",
	} {
		require.NoError(t, refuseAddress("tcp", addr, nil), addr)
	}
}
