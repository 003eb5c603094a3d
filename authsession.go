package polydev

import (
	"context"
	"time"
)

// AuthSessionStatus is where a browser login session is. The machine is small and every move is a
// compare-and-set in the store, so two actors (the session's runner, a cancel, the expiry job)
// never both win:
//
//	pending ─► running ─► completed
//	   └─────────┴──────► failed | cancelled | expired
//
// pending: the record exists, a VM is being taken from the pool and prepared. running: the login
// runs in the VM and the user signs in through the viewer. The last four are final.
type AuthSessionStatus string

const (
	AuthPending   AuthSessionStatus = "pending"
	AuthRunning   AuthSessionStatus = "running"
	AuthCompleted AuthSessionStatus = "completed"
	AuthFailed    AuthSessionStatus = "failed"
	AuthCancelled AuthSessionStatus = "cancelled"
	AuthExpired   AuthSessionStatus = "expired"
)

// AuthSessionStatuses lists every status.
var AuthSessionStatuses = []AuthSessionStatus{AuthPending, AuthRunning, AuthCompleted, AuthFailed, AuthCancelled, AuthExpired}

// Valid reports whether s is a known status.
func (s AuthSessionStatus) Valid() bool {
	for _, v := range AuthSessionStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// Active reports whether a session in status s may still change (and holds a VM).
func (s AuthSessionStatus) Active() bool { return s == AuthPending || s == AuthRunning }

// AuthSessionTTL is how long a session may take from its creation: past it the session expires and
// its VM is reaped, whatever it was doing.
const AuthSessionTTL = 30 * time.Minute

// AuthSession is one browser login session (the seed's auth_sessions row): a user signs in to a
// coding CLI (Provider) or to any site (TargetURL) in a browser VM of their own, and the credential
// the login leaves behind is kept sealed with the user's data key. Exactly one of Provider and
// TargetURL is set.
type AuthSession struct {
	ID        string            `json:"id"`
	UserID    string            `json:"-"`
	Provider  CLIProvider       `json:"provider,omitempty"`
	TargetURL string            `json:"targetUrl,omitempty"`
	VMID      string            `json:"vmId,omitempty"` // "" until a VM is assigned
	Status    AuthSessionStatus `json:"status"`
	// Reason says why a session failed, for its user; never a secret.
	Reason    string     `json:"reason,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
	ExpiresAt time.Time  `json:"expiresAt"`
	EndedAt   *time.Time `json:"endedAt"`
	// VMReleasedAt is when the session's VM was destroyed; nil while it may still exist.
	VMReleasedAt *time.Time `json:"vmReleasedAt"`
	// Credential is the captured credential, sealed (nil until completed); never serialised.
	Credential *AuthCredential `json:"-"`
}

// AuthCredential is a sealed credential file: Sealed is the vault envelope of its bytes under the
// user's data key (DEKVersion), bound to the user, the session and its provider or target.
type AuthCredential struct {
	Name       string // the file's name as the CLI wrote it, e.g. ".credentials.json"
	Sealed     []byte
	DEKVersion int
}

// AuthSessionCounts is the admin overview: sessions still running (pending or running), completed
// ones, and all of them.
type AuthSessionCounts struct {
	Active    int `json:"active"`
	Completed int `json:"completed"`
	Total     int `json:"total"`
}

// AuthSessionStore persists login sessions. Moves between statuses are compare-and-sets: ECONFLICT
// when the session is not in the state the move starts from, ENOTFOUND when there is no such row.
type AuthSessionStore interface {
	// CreateAuthSession inserts s (pending, ID and timestamps set); ECONFLICT if the id exists,
	// EINVALID for an unknown status or provider.
	CreateAuthSession(ctx context.Context, s *AuthSession) error
	// AuthSessionByID returns userID's session; ENOTFOUND when none or someone else's.
	AuthSessionByID(ctx context.Context, userID, id string) (*AuthSession, error)
	// ListAuthSessions returns userID's sessions newest first, at most limit.
	ListAuthSessions(ctx context.Context, userID string, limit int) ([]*AuthSession, error)
	// SetAuthSessionVM records the VM of pending session id (once: ECONFLICT if one is set or the
	// session is no longer pending).
	SetAuthSessionVM(ctx context.Context, id, vmID string, at time.Time) error
	// StartAuthSession moves id from pending to running.
	StartAuthSession(ctx context.Context, id string, at time.Time) error
	// CompleteAuthSession moves id from running to completed, storing the sealed credential.
	CompleteAuthSession(ctx context.Context, id string, c *AuthCredential, at time.Time) error
	// EndAuthSession moves id from pending or running to the final status to (failed, cancelled or
	// expired) with a reason for the user.
	EndAuthSession(ctx context.Context, id string, to AuthSessionStatus, reason string, at time.Time) error
	// ReleaseAuthSessionVM records that id's VM is gone.
	ReleaseAuthSessionVM(ctx context.Context, id string, at time.Time) error
	// AuthSessionsToSweep returns, oldest first and at most limit, the sessions that need the expiry
	// job: active ones whose expiry is at or before now, and final ones whose VM was not released.
	AuthSessionsToSweep(ctx context.Context, now time.Time, limit int) ([]*AuthSession, error)
	// RecentAuthSessions returns every user's sessions, most recently changed first, at most limit
	// (the admin's recent events).
	RecentAuthSessions(ctx context.Context, limit int) ([]*AuthSession, error)
	// CountAuthSessions counts every session.
	CountAuthSessions(ctx context.Context) (*AuthSessionCounts, error)
}
