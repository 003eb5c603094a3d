package polydev

import (
	"context"
	"net/mail"
	"strings"
	"time"
)

// Role says what a user may administer.
type Role string

const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleUser || r == RoleAdmin }

// Tier is a user's subscription level; it decides BYOK, ephemeral mode and limits (see TierLimits).
type Tier string

const (
	TierFree       Tier = "free"
	TierPlus       Tier = "plus"
	TierPro        Tier = "pro"
	TierEnterprise Tier = "enterprise"
)

// Tiers lists every tier from lowest to highest.
var Tiers = []Tier{TierFree, TierPlus, TierPro, TierEnterprise}

// Valid reports whether t is a known tier.
func (t Tier) Valid() bool {
	for _, v := range Tiers {
		if t == v {
			return true
		}
	}
	return false
}

// User is an account. PasswordHash is an argon2id PHC string and never leaves the server.
type User struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	PasswordHash string    `json:"-"`
	Role         Role      `json:"role"`
	Tier         Tier      `json:"tier"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// IsAdmin reports whether u may use the admin API.
func (u *User) IsAdmin() bool { return u != nil && u.Role == RoleAdmin }

// NormalizeEmail trims and lower-cases an address and checks that it is a plain address
// (no display name), so that one mailbox maps to one account.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", Errorf(EINVALID, "email is required")
	}
	if len(s) > 254 {
		return "", Errorf(EINVALID, "email is too long")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", Errorf(EINVALID, "email is not a valid address")
	}
	return s, nil
}

// Password length bounds. The upper bound keeps hashing cost bounded for hostile input.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 256
)

// CheckPassword enforces the password policy on a new password.
func CheckPassword(p string) error {
	if len(p) < MinPasswordLen {
		return Errorf(EINVALID, "password must be at least %d characters", MinPasswordLen)
	}
	if len(p) > MaxPasswordLen {
		return Errorf(EINVALID, "password must be at most %d characters", MaxPasswordLen)
	}
	return nil
}

// UserStore persists users.
type UserStore interface {
	// CreateUser inserts u (ID and timestamps must be set); ECONFLICT if the email is taken.
	CreateUser(ctx context.Context, u *User) error
	// UserByID and UserByEmail return ENOTFOUND when there is no such user.
	UserByID(ctx context.Context, id string) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
	// UpdateUser changes role, tier and password hash of an existing user.
	UpdateUser(ctx context.Context, u *User) error
	// CountUsersByTier returns how many users each tier has.
	CountUsersByTier(ctx context.Context) (map[Tier]int, error)
}
