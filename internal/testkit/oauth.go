package testkit

// NewOAuth is a fake OAuth 2.0 authorization server for the browser login flow, over TLS with its own
// test CA: what the coding CLIs talk to when they sign in, reduced to the documented parts a native
// app uses (RFC 6749 authorization code grant, RFC 7636 PKCE with S256, RFC 8252 loopback redirects):
//
//	GET  /authorize  response_type=code, client_id, redirect_uri (http://127.0.0.1:P/… or
//	                 http://localhost:P/…), state, code_challenge, code_challenge_method=S256
//	                 → an HTML sign-in form (username, password)
//	POST /authorize  the form → 303 to redirect_uri?code=…&state=… when the password is right,
//	                 the form again with an error otherwise
//	POST /token      grant_type=authorization_code, code, redirect_uri, client_id, code_verifier
//	                 → {"access_token","refresh_token","token_type":"Bearer","expires_in"}; a code
//	                 works once, and only with the verifier whose S256 is its challenge
//
// The server certificate names the given hosts and 127.0.0.1, and is served with the CA in its chain
// (Chromium's SPKI allow-list needs the CA key in the chain it is shown).

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// OAuthOptions configure the fake.
type OAuthOptions struct {
	ClientID string   // the only client it knows
	Username string   // the only account
	Password string   //
	Hosts    []string // DNS names on its certificate besides 127.0.0.1
}

// OAuth is a running fake authorization server.
type OAuth struct {
	URL string            // https://127.0.0.1:PORT
	CA  *x509.Certificate // the test CA that signed its certificate

	opts OAuthOptions
	srv  *httptest.Server

	mu       sync.Mutex
	codes    map[string]grant
	issued   []string // access tokens, in order
	requests []string // "METHOD host path", in order
}

type grant struct {
	challenge, redirect string
}

// NewOAuth starts the fake on 127.0.0.1; it stops with the test.
func NewOAuth(t testing.TB, o OAuthOptions) *OAuth {
	t.Helper()
	ca, caKey := newCA(t)
	leaf := newLeaf(t, ca, caKey, o.Hosts)
	p := &OAuth{CA: ca, opts: o, codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", p.authorizeForm)
	mux.HandleFunc("POST /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests = append(p.requests, r.Method+" "+r.Host+" "+r.URL.Path)
		p.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	p.srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12}
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	p.URL = p.srv.URL
	return p
}

// Addr is the listener's host:port.
func (p *OAuth) Addr() string { return p.srv.Listener.Addr().String() }

// Client trusts the fake's CA.
func (p *OAuth) Client() *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// Issued returns the access tokens handed out so far.
func (p *OAuth) Issued() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.issued...)
}

// Requests returns "METHOD host path" of every request so far.
func (p *OAuth) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

var signInPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html><head><title>Sign in - fake provider</title></head><body>
<h1>Sign in</h1>{{if .Error}}<p id="error">{{.Error}}</p>{{end}}
<form method="post" action="/authorize">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<label>Username <input type="text" name="username" autocomplete="username"></label>
<label>Password <input type="password" name="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form></body></html>`))

// authParams are the authorize parameters the form carries through.
var authParams = []string{"response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method"}

func (p *OAuth) checkAuthorize(v url.Values) string {
	switch {
	case v.Get("response_type") != "code":
		return "unsupported response_type"
	case v.Get("client_id") != p.opts.ClientID:
		return "unknown client"
	case v.Get("code_challenge_method") != "S256" || len(v.Get("code_challenge")) != 43:
		return "PKCE S256 required"
	case !loopbackRedirect(v.Get("redirect_uri")):
		return "redirect_uri must be a loopback http URL"
	}
	return ""
}

func loopbackRedirect(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return false
	}
	h := u.Hostname()
	return h == "localhost" || net.ParseIP(h).IsLoopback()
}

func (p *OAuth) renderForm(w http.ResponseWriter, v url.Values, msg string) {
	params := map[string]string{}
	for _, k := range authParams {
		params[k] = v.Get(k)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = signInPage.Execute(w, struct {
		Params map[string]string
		Error  string
	}{params, msg})
}

func (p *OAuth) authorizeForm(w http.ResponseWriter, r *http.Request) {
	if msg := p.checkAuthorize(r.URL.Query()); msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	p.renderForm(w, r.URL.Query(), "")
}

func (p *OAuth) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	v := r.PostForm
	if msg := p.checkAuthorize(v); msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	if subtle.ConstantTimeCompare([]byte(v.Get("username")), []byte(p.opts.Username)) != 1 ||
		subtle.ConstantTimeCompare([]byte(v.Get("password")), []byte(p.opts.Password)) != 1 {
		p.renderForm(w, v, "Wrong username or password.")
		return
	}
	code := randomToken()
	p.mu.Lock()
	p.codes[code] = grant{challenge: v.Get("code_challenge"), redirect: v.Get("redirect_uri")}
	p.mu.Unlock()
	to, _ := url.Parse(v.Get("redirect_uri"))
	q := to.Query()
	q.Set("code", code)
	q.Set("state", v.Get("state"))
	to.RawQuery = q.Encode()
	http.Redirect(w, r, to.String(), http.StatusSeeOther)
}

func (p *OAuth) token(w http.ResponseWriter, r *http.Request) {
	fail := func(code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "authorization_code" {
		fail("unsupported_grant_type")
		return
	}
	v := r.PostForm
	p.mu.Lock()
	g, ok := p.codes[v.Get("code")]
	delete(p.codes, v.Get("code")) // a code works once, right or wrong
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(v.Get("code_verifier")))
	switch {
	case !ok, v.Get("redirect_uri") != g.redirect, v.Get("client_id") != p.opts.ClientID:
		fail("invalid_grant")
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		fail("invalid_grant")
		return
	}
	access := "fake-at-" + randomToken()
	p.mu.Lock()
	p.issued = append(p.issued, access)
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": access, "refresh_token": "fake-rt-" + randomToken(), "token_type": "Bearer", "expires_in": 3600,
	})
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func newCA(t testing.TB) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Polydev test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func newLeaf(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "fake OAuth provider"},
		DNSNames: hosts, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key}
}
