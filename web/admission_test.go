package web

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPasswordHashGate: with every argon2id slot taken, a login waits its bounded time and gets 503
// with Retry-After in the error shape; health checks and signed-in users are unaffected; once a
// slot frees, logins work again.
func TestPasswordHashGate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{PasswordHashers: 1, PasswordHashWait: 50 * time.Millisecond})
	cookie := e.signup("gate@example.com", pw)
	leave, err := e.srv.hashes.Enter(t.Context()) // a flood holds the only slot
	if err != nil {
		t.Fatal(err)
	}
	r := e.want(e.do("POST", "/api/account/login", map[string]string{"email": "gate@example.com", "password": pw}), http.StatusServiceUnavailable)
	if r.header.Get("Retry-After") == "" || !strings.Contains(r.errorBody(t).Message, "busy") {
		t.Fatalf("503 without Retry-After or message: %v %s", r.header, r.body)
	}
	e.want(e.do("POST", "/api/account/signup", map[string]string{"email": "new@example.com", "password": pw}), http.StatusServiceUnavailable)
	e.want(e.do("GET", "/healthz", nil), http.StatusOK)
	e.want(e.do("GET", "/api/account/me", nil, "Cookie", cookie), http.StatusOK)
	leave()
	e.want(e.do("POST", "/api/account/login", map[string]string{"email": "gate@example.com", "password": pw}), http.StatusOK)
	if _, err := e.store.UserByEmail(t.Context(), "new@example.com"); err == nil {
		t.Fatal("a refused sign-up created its account")
	}
}

// TestSlowBodyIsCutOff: a login body dribbled slower than the body deadline is answered with an
// error and the connection does not stay open; a prompt body on the same server works.
func TestSlowBodyIsCutOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{BodyReadTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"email":"slow@example.com","password":"` + pw + `"}`
	fmt.Fprintf(conn, "POST /api/account/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	// One byte now and then: the whole body would take far longer than the deadline.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < len(body); i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang fails the test instead of blocking it
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a dribbled body: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("dribbled body: status %d, want 400", res.StatusCode)
	}
	e.want(e.do("POST", "/api/account/signup", map[string]string{"email": "quick@example.com", "password": pw}), http.StatusCreated)
}
