package billing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/polydev/polydev"
)

// DefaultTolerance is how far a signature's timestamp may be from now: Stripe's own default, which
// bounds how long a captured delivery can be replayed.
const DefaultTolerance = 300 * time.Second

// maxSignatures bounds the v1 values read from one header: Stripe sends one per active endpoint
// secret (two while a secret is being rolled).
const maxSignatures = 8

var errBadSignature = polydev.Errorf(polydev.EINVALID, "the Stripe-Signature header does not match the body")

// VerifySignature checks a Stripe-Signature header ("t=<unix seconds>,v1=<hex>,v1=<hex>,...") over
// payload: one v1 value must be HMAC-SHA256(secret, "<t>.<payload>") and t must be within tolerance
// of now, in either direction. Other schemes (v0) are ignored. Every failure is the same EINVALID,
// so the answer tells a forger nothing about which part was wrong.
func VerifySignature(payload []byte, header, secret string, now time.Time, tolerance time.Duration) error {
	if secret == "" || header == "" || len(header) > 4096 {
		return errBadSignature
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if len(sigs) == maxSignatures {
				return errBadSignature
			}
			if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errBadSignature
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(payload)
	want := mac.Sum(nil)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return errBadSignature
}

// Sign returns a Stripe-Signature header for payload at t: what Stripe sends, for tests and for
// replaying a stored event by hand.
func Sign(payload []byte, secret string, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(payload)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}
