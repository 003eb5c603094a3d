package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters. The defaults meet OWASP's minimum (19 MiB, 2 passes, 1 lane).
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultParams is what new hashes use.
var DefaultParams = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

// Bounds on parameters accepted from a stored hash, so a corrupted or hostile row cannot make one
// verification take gigabytes or minutes.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 16
	saltLen      = 16
	keyLen       = 32
)

var errBadHash = errors.New("auth: malformed password hash")

// HashPassword returns an argon2id hash in PHC string form ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
func HashPassword(password string) (string, error) {
	return hashWith(password, DefaultParams)
}

func hashWith(password string, p Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := idKey(password, salt, p, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches hash. A malformed hash is an error, never a match.
func VerifyPassword(password, hash string) (bool, error) {
	p, salt, key, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	got := idKey(password, salt, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// idKey is argon2id, followed by a garbage collection in the background. The computation holds
// p.MemoryKiB (19 MiB by default) for its whole duration; its allocation usually starts a
// collection that finds those blocks alive, and the collector then sets its next goal at twice
// them. A gateway whose own live heap is a few MiB would then grow its heap to 40 MiB or more
// before collecting again, every new page faulted in, and hand the pages back through the
// scavenger afterwards: measured at concurrency 1 after one sign-in, a quarter more CPU per
// gateway request for the next few thousand requests (docs/PERFORMANCE.md, "The heap after a
// sign-in"). One collection once the blocks are garbage puts the goal back where the live heap is.
func idKey(password string, salt []byte, p Params, n uint32) []byte {
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, n)
	settleHeap()
	return key
}

// settleHeap asks the collector goroutine for one collection. Requests that arrive while it
// collects fold into one more collection after it, so the last argon2id to end is always
// followed by one, however many run at once.
func settleHeap() {
	settler.Do(func() {
		settle = make(chan struct{}, 1)
		go func() {
			for range settle {
				runtime.GC()
			}
		}()
	})
	select {
	case settle <- struct{}{}:
	default: // one is pending already and will run after this computation ended
	}
}

var (
	settler sync.Once
	settle  chan struct{}
)

// dummyHash is verified against when a login names an unknown account, so that response time does
// not tell whether the account exists. It is made on first use, not at package init: an argon2id
// hash costs half a second and 19 MiB on a loaded host, which every polydev command (the
// per-connection egress pipe among them) would otherwise pay at start.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("polydev-dummy-password-for-timing")
	return h
})

// BurnVerify spends the same time as a real verification and always fails.
func BurnVerify(password string) {
	_, _ = VerifyPassword(password, dummyHash())
}

// NeedsRehash reports whether hash was made with weaker parameters than DefaultParams.
func NeedsRehash(hash string) bool {
	p, _, _, err := parseHash(hash)
	return err != nil || p.MemoryKiB < DefaultParams.MemoryKiB || p.Time < DefaultParams.Time
}

func parseHash(hash string) (Params, []byte, []byte, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, errBadHash
	}
	var p Params
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil || n != 3 {
		return Params{}, nil, nil, errBadHash
	}
	if p.MemoryKiB < 8 || p.MemoryKiB > maxMemoryKiB || p.Time < 1 || p.Time > maxTime || p.Threads < 1 {
		return Params{}, nil, nil, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return Params{}, nil, nil, errBadHash
	}
	return p, salt, key, nil
}
