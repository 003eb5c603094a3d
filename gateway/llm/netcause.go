package llm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

// Network failure causes, as NetCause names them in logs.
const (
	NetRefused     = "refused"     // nothing listens there (ECONNREFUSED)
	NetReset       = "reset"       // the peer reset or closed the connection mid-exchange (ECONNRESET, EPIPE, EOF)
	NetTLS         = "tls"         // the TLS handshake failed: certificate, protocol or alert
	NetTimeout     = "timeout"     // no connection or no answer in time
	NetDNS         = "dns"         // the upstream's name did not resolve
	NetUnreachable = "unreachable" // no route to the host or network (EHOSTUNREACH, ENETUNREACH)
	NetOther       = "other"       // none of these
)

// NetCause names why a connection to an upstream failed, from the error chain of the transport's
// error, for logs: operators need to tell a refused port from a bad certificate without the raw
// error text, which holds the URL. It returns "" when err is no network failure at all.
func NetCause(err error) string {
	if err == nil {
		return ""
	}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var alert tls.AlertError
	var recErr tls.RecordHeaderError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &dnsErr):
		if dnsErr.IsTimeout {
			return NetTimeout
		}
		return NetDNS
	case errors.As(err, &certErr), errors.As(err, &alert), errors.As(err, &recErr),
		errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid):
		return NetTLS
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// net/http's Transport replaces the tls.RecordHeaderError of this case with a plain error.
		return NetTLS
	case errors.Is(err, syscall.ECONNREFUSED):
		return NetRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return NetReset
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return NetUnreachable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return NetTimeout
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return NetTimeout
	}
	return NetOther
}
