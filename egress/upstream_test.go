package egress

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

const (
	upUser = "cust-7f3a-session-91"
	upPass = "s3cr3t:p@ss/word"
)

func upstreamURL(u *testUpstream, user, pass string) string {
	return "http://" + escapeUserinfo(user) + ":" + escapeUserinfo(pass) + "@" + u.addr
}

func escapeUserinfo(s string) string {
	r := strings.NewReplacer("%", "%25", "@", "%40", ":", "%3A", "/", "%2F")
	return r.Replace(s)
}

// Through the operator's upstream proxy: the tunnel and the plain request go through it with the
// credentials, the destination check still runs here, and no log line carries a credential.
func TestUpstreamChaining(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, upUser, upPass, map[string]string{"login.test": "127.0.0.1", "plain.test": "127.0.0.1"})
	parsed, err := ParseUpstream(upstreamURL(up, upUser, upPass))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{Upstream: parsed})
	srv, p := e.tlsServer("login.test")
	plain := httpServer(t, e, "plain.test")
	pp := port(t, plain.Listener.Addr())
	e.open("s", Rule{Host: "login.test", Ports: []uint16{p}}, Rule{Host: "plain.test", Ports: []uint16{pp}})
	e.getHello(srv, p)
	resp, err := e.client(nil).Get("http://plain.test:" + itoa(pp) + "/x")
	if err != nil {
		t.Fatal(err)
	}
	if got := body(t, resp); !strings.HasPrefix(got, "plain /x") {
		t.Fatalf("plain body = %q", got)
	}
	targets, auths := up.seen()
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(upUser+":"+upPass))
	if len(targets) != 2 || targets[0] != "CONNECT login.test:"+itoa(p) || targets[1] != "GET plain.test:"+itoa(pp) {
		t.Errorf("upstream saw %v", targets)
	}
	for _, a := range auths {
		if a != want {
			t.Errorf("upstream got Proxy-Authorization %q", a)
		}
	}
	// A refused host never reaches the upstream.
	r2, c, _ := e.rawConnect("evil.test:443")
	c.Close()
	if r2.StatusCode != http.StatusForbidden {
		t.Errorf("refused host through upstream: %d", r2.StatusCode)
	}
	if targets, _ := up.seen(); len(targets) != 2 {
		t.Errorf("upstream saw a refused host: %v", targets)
	}
	assertNoSecrets(t, e.log.String())
}

// Wrong credentials: the guest gets a 502 naming the upstream's 407, the log names neither the
// user nor the password.
func TestUpstreamWrongCredentials(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, upUser, "right", map[string]string{"login.test": "127.0.0.1"})
	parsed, err := ParseUpstream(upstreamURL(up, upUser, upPass))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{Upstream: parsed})
	_, p := e.tlsServer("login.test")
	s, err := e.p.Open(e.vmID, Policy{Session: "s", Allow: []Rule{{Host: "login.test", Ports: []uint16{p}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, c, _ := e.rawConnect("login.test:" + itoa(p))
	c.Close()
	b := body(t, resp)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	mustContain(t, b, "407")
	assertNoSecrets(t, b)
	assertNoSecrets(t, e.log.String())
	if parsed.String() != "http://"+up.addr {
		t.Errorf("String() = %q", parsed.String())
	}
}

// An unreachable upstream: the dial error is logged scrubbed.
func TestUpstreamUnreachable(t *testing.T) {
	t.Parallel()
	parsed, err := ParseUpstream("http://" + escapeUserinfo(upUser) + ":" + escapeUserinfo(upPass) + "@127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{Upstream: parsed})
	e.dns.names["login.test"] = "127.0.0.1"
	s, err := e.p.Open(e.vmID, Policy{Session: "s", Allow: []Rule{{Host: "login.test"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, c, _ := e.rawConnect("login.test:443")
	c.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d", resp.StatusCode)
	}
	mustContain(t, e.log.String(), "egress dial failed")
	assertNoSecrets(t, e.log.String())
}

func TestParseUpstream(t *testing.T) {
	t.Parallel()
	if up, err := ParseUpstream(""); up != nil || err != nil {
		t.Errorf("empty: %v %v", up, err)
	}
	for _, bad := range []string{
		"socks5://u:" + escapeUserinfo(upPass) + "@h:1",
		"http://u:" + escapeUserinfo(upPass) + "@h",
		"http://u:" + escapeUserinfo(upPass) + "@h:1/path",
		"http://u:" + escapeUserinfo(upPass) + "@h:1?x=1",
		"http://u:" + upPass + "%zz@h:1",
		"::",
	} {
		_, err := ParseUpstream(bad)
		if err == nil {
			t.Errorf("ParseUpstream(%q) accepted", bad)
			continue
		}
		assertNoSecrets(t, err.Error())
	}
	up, err := ParseUpstream("https://" + escapeUserinfo(upUser) + ":" + escapeUserinfo(upPass) + "@proxy.example:8443")
	if err != nil {
		t.Fatal(err)
	}
	if up.String() != "https://proxy.example:8443" {
		t.Errorf("String() = %q", up.String())
	}
	assertNoSecrets(t, up.scrub("dial "+upUser+" "+upPass+" "+escapeUserinfo(upPass)))
}

func assertNoSecrets(t *testing.T, s string) {
	t.Helper()
	for _, sec := range []string{upUser, upPass, escapeUserinfo(upPass), "s3cr3t", base64.StdEncoding.EncodeToString([]byte(upUser + ":" + upPass))} {
		if strings.Contains(s, sec) {
			t.Errorf("credential %q leaked into %q", sec, s)
		}
	}
}
