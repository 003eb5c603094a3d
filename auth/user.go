package auth

import (
	"time"

	"github.com/polydev/polydev"
)

// NewUser validates an email and password and returns a new user with a hashed password. The CLI's
// `user create` uses it too, so both paths enforce one policy. The user counts as verified (there is
// no mail to verify with); sign-up with mail on clears EmailVerifiedAt.
func NewUser(email, password string, role polydev.Role, tier polydev.Tier, now time.Time) (*polydev.User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if err := polydev.CheckPassword(password); err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, polydev.Errorf(polydev.EINVALID, "role must be user or admin")
	}
	if !tier.Valid() {
		return nil, polydev.Errorf(polydev.EINVALID, "tier must be free, plus, pro or enterprise")
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	return &polydev.User{ID: polydev.NewID(), Email: email, PasswordHash: hash, Role: role, Tier: tier, CreatedAt: now, UpdatedAt: now, EmailVerifiedAt: &now}, nil
}
