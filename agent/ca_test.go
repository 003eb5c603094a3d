package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testCert(t *testing.T, isCA bool) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "polydev test CA"},
		NotBefore: time.Unix(1700000000, 0), NotAfter: time.Unix(2000000000, 0),
		IsCA: isCA, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestExtraCAFromCmdline(t *testing.T) {
	t.Parallel()
	ca := testCert(t, true)
	arg := base64.RawURLEncoding.EncodeToString(ca.Raw)
	cmdline := "console=ttyS0 polydev.egress=10.0.2.100:3128 polydev.ca=" + arg + " panic=1\n"
	if got := CmdlineValue(cmdline, "polydev.egress"); got != "10.0.2.100:3128" {
		t.Fatalf("egress = %q", got)
	}
	if CmdlineValue("xpolydev.ca=1", "polydev.ca") != "" {
		t.Fatal("matched a longer key")
	}
	got, err := ParseCA(CmdlineValue(cmdline, "polydev.ca"))
	if err != nil || !got.Equal(ca) {
		t.Fatalf("ParseCA = %v", err)
	}
	for _, bad := range []string{"!!", base64.RawURLEncoding.EncodeToString([]byte("not DER")), base64.RawURLEncoding.EncodeToString(testCert(t, false).Raw)} {
		if _, err := ParseCA(bad); err == nil {
			t.Fatalf("ParseCA(%q) accepted", bad)
		}
	}

	dir := t.TempDir()
	system := filepath.Join(dir, "system.crt")
	if err := os.WriteFile(system, []byte("-----BEGIN CERTIFICATE-----\nsystem\n-----END CERTIFICATE-----"), 0o644); err != nil {
		t.Fatal(err)
	}
	tc, err := InstallCA(ca, filepath.Join(dir, "state"), system)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(tc.PEM)
	if blk, _ := pem.Decode(b); blk == nil || string(blk.Bytes) != string(ca.Raw) {
		t.Fatal("extra-ca.pem is not the CA")
	}
	bundle, _ := os.ReadFile(tc.Bundle)
	if !strings.HasPrefix(string(bundle), "-----BEGIN CERTIFICATE-----\nsystem\n-----END CERTIFICATE-----\n-----BEGIN") || !strings.HasSuffix(string(bundle), string(b)) {
		t.Fatalf("bundle:\n%s", bundle)
	}
	if raw, err := base64.StdEncoding.DecodeString(tc.SPKI); err != nil || len(raw) != 32 {
		t.Fatalf("SPKI %q", tc.SPKI)
	}
	env := strings.Join(tc.Env(), " ")
	if !strings.Contains(env, "NODE_EXTRA_CA_CERTS="+tc.PEM) || !strings.Contains(env, "SSL_CERT_FILE="+tc.Bundle) {
		t.Fatalf("env %s", env)
	}
}
