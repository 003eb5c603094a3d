package agent

// An extra trusted CA from the host (kernel argument polydev.ca=<base64url of one DER certificate>).
// Tests use it for a fake OAuth provider behind the egress proxy; an operator could use it for a
// TLS-inspecting upstream proxy. The host already controls the guest's disk, memory and kernel, so
// trusting a CA it names gives it nothing new. The agent makes every client in the login flow trust it:
//   - Chromium: --ignore-certificate-errors-spki-list with the CA's SPKI hash, which accepts a chain
//     that contains that key (the server must send the CA with its chain); it is a start-up flag, so
//     the CA is fixed when the golden VM boots, like the egress address;
//   - Node CLIs (Claude Code, Gemini CLI): NODE_EXTRA_CA_CERTS, added to Node's own roots;
//   - Go and Rust programs (Codex CLI, the self-test CLI): SSL_CERT_FILE, a bundle of the system's
//     roots plus the CA.

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CmdlineValue returns the value of key= in a kernel command line, or "".
func CmdlineValue(cmdline, key string) string {
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// ParseCA decodes polydev.ca='s value: base64url (padding optional) of one DER CA certificate.
func ParseCA(v string) (*x509.Certificate, error) {
	der, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v, "="))
	if err != nil {
		return nil, fmt.Errorf("polydev.ca: %w", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("polydev.ca: %w", err)
	}
	if !c.IsCA {
		return nil, errors.New("polydev.ca: not a CA certificate")
	}
	return c, nil
}

// TrustedCA is an installed extra CA.
type TrustedCA struct {
	PEM    string // the CA alone
	Bundle string // the system roots plus the CA
	SPKI   string // base64 SHA-256 of its SubjectPublicKeyInfo, Chromium's form
}

// SystemBundle is Debian's CA bundle.
const SystemBundle = "/etc/ssl/certs/ca-certificates.crt"

// InstallCA writes the CA and a bundle of systemBundle's roots plus it into dir.
func InstallCA(c *x509.Certificate, dir, systemBundle string) (TrustedCA, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return TrustedCA{}, err
	}
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	t := TrustedCA{PEM: filepath.Join(dir, "extra-ca.pem"), Bundle: filepath.Join(dir, "ca-bundle.pem")}
	if err := os.WriteFile(t.PEM, block, 0o644); err != nil {
		return TrustedCA{}, err
	}
	system, err := os.ReadFile(systemBundle)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return TrustedCA{}, err
	}
	if len(system) > 0 && system[len(system)-1] != '\n' {
		system = append(system, '\n')
	}
	if err := os.WriteFile(t.Bundle, append(system, block...), 0o644); err != nil {
		return TrustedCA{}, err
	}
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	t.SPKI = base64.StdEncoding.EncodeToString(sum[:])
	return t, nil
}

// Env is what the CLIs need to trust the CA.
func (t TrustedCA) Env() []string {
	return []string{"NODE_EXTRA_CA_CERTS=" + t.PEM, "SSL_CERT_FILE=" + t.Bundle}
}
