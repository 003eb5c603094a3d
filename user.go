package polydev

import (
	"context"
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
	// DisabledAt is when an administrator disabled the account (nil: enabled). A disabled user
	// cannot log in, and their sessions and API tokens stop working.
	DisabledAt *time.Time `json:"disabledAt"`
	// EmailVerifiedAt is when the owner proved they receive mail at Email (a verification or reset
	// link), or when the account was made without a way to prove it (by an administrator, by sign-up
	// while the server had no mail, or before verification existed). nil: signed up while mail was
	// on and not verified yet; see Verified.
	EmailVerifiedAt *time.Time `json:"emailVerifiedAt"`
}

// Verified reports whether u's email address is verified (or exempt; see EmailVerifiedAt).
func (u *User) Verified() bool { return u.EmailVerifiedAt != nil }

// Disabled reports whether an administrator disabled the account.
func (u *User) Disabled() bool { return u.DisabledAt != nil }

// IsAdmin reports whether u may use the admin API.
func (u *User) IsAdmin() bool { return u != nil && u.Role == RoleAdmin }

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
	// UpdateUser changes role, tier, password hash, disabled and email-verified times of an existing
	// user.
	UpdateUser(ctx context.Context, u *User) error
	// ListUsers returns users in email order, starting after q.After, at most q.Limit of them.
	ListUsers(ctx context.Context, q UserQuery) ([]*User, error)
	// CountUsersByTier returns how many users each tier has.
	CountUsersByTier(ctx context.Context) (map[Tier]int, error)
}

// UserQuery selects a page of users for administrators.
type UserQuery struct {
	// Search keeps users whose email contains it (case-insensitive; "" = all).
	Search string
	// After is the last email of the previous page ("" = from the start).
	After string
	Limit int
}
