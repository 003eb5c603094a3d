package billing

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"
)

const secret = "whsec_unit_test"

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	payload := []byte(`{"id":"evt_1","type":"invoice.paid","created":1790000000}`)
	now := time.Unix(1790000100, 0)
	good := Sign(payload, secret, now)
	_, v1, _ := strings.Cut(good, ",")
	other := "v1=" + strings.Repeat("00", 32)
	for _, tc := range []struct {
		name   string
		header string
		body   []byte
		ok     bool
	}{
		{"valid", good, payload, true},
		{"valid among several v1", "t=" + strconv.FormatInt(now.Unix(), 10) + "," + other + "," + v1 + ",v0=ff", payload, true},
		{"300 s old", Sign(payload, secret, now.Add(-300*time.Second)), payload, true},
		{"301 s old", Sign(payload, secret, now.Add(-301*time.Second)), payload, false},
		{"301 s ahead", Sign(payload, secret, now.Add(301*time.Second)), payload, false},
		{"missing", "", payload, false},
		{"wrong secret", Sign(payload, "whsec_other", now), payload, false},
		{"one byte changed", good, []byte(strings.Replace(string(payload), "1790000000", "1790000001", 1)), false},
		{"no timestamp", v1, payload, false},
		{"only v0", strings.Replace(good, "v1=", "v0=", 1), payload, false},
		{"short v1", good[:len(good)-2], payload, false},
		{"timestamp changed", strings.Replace(good, "t=1790000100", "t=1790000101", 1), payload, false},
		{"too many v1", "t=1790000100" + strings.Repeat(","+other, maxSignatures) + "," + v1, payload, false},
	} {
		err := VerifySignature(tc.body, tc.header, secret, now, DefaultTolerance)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	if err := VerifySignature(payload, good, "", now, DefaultTolerance); err == nil {
		t.Error("an empty secret verified a signature")
	}
}

// TestSignatureMatchesStripeGo checks the verifier and Sign against stripe-go's own webhook package
// in both directions: what Stripe's library signs verifies here, and what Sign produces Stripe's
// library accepts.
func TestSignatureMatchesStripeGo(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for i, payload := range []string{`{}`, `{"id":"evt_x","object":"event"}`, strings.Repeat("é", 1000), "\x00\xff"} {
		sig := webhook.ComputeSignature(now, []byte(payload), secret)
		header := "t=" + strconv.FormatInt(now.Unix(), 10) + ",v1=" + hex.EncodeToString(sig)
		if err := VerifySignature([]byte(payload), header, secret, now, DefaultTolerance); err != nil {
			t.Errorf("payload %d: stripe-go's signature refused: %v", i, err)
		}
		if err := webhook.ValidatePayloadWithTolerance([]byte(payload), Sign([]byte(payload), secret, now), secret, DefaultTolerance); err != nil {
			t.Errorf("payload %d: stripe-go refuses Sign's header: %v", i, err)
		}
	}
}

// FuzzVerifySignature: no input panics; anything accepted is also accepted by stripe-go's
// verifier; and an accepted payload changed in any one byte is refused.
func FuzzVerifySignature(f *testing.F) {
	now := time.Unix(1790000100, 0)
	f.Add([]byte(`{"id":"evt_1"}`), Sign([]byte(`{"id":"evt_1"}`), secret, now), 3)
	f.Add([]byte(`x`), "t=1790000100,v1=,v1=zz,,=,t=", 0)
	f.Fuzz(func(t *testing.T, payload []byte, header string, pos int) {
		if VerifySignature(payload, header, secret, now, DefaultTolerance) != nil {
			return
		}
		if err := webhook.ValidatePayloadIgnoringTolerance(payload, header, secret); err != nil {
			t.Fatalf("accepted here, refused by stripe-go: %v", err)
		}
		if len(payload) == 0 {
			return
		}
		changed := append([]byte(nil), payload...)
		changed[(pos%len(changed)+len(changed))%len(changed)] ^= 0x01
		if VerifySignature(changed, header, secret, now, DefaultTolerance) == nil {
			t.Fatal("a payload changed in one byte verified")
		}
	})
}
