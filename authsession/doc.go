// Package authsession runs browser login sessions on the host: a user signs in to a coding CLI
// (Claude Code, Codex CLI, Gemini CLI) or to any https site in a browser VM of their own, and the
// credential the login leaves is sealed with the user's data key. It owns the session's state
// machine (polydev.AuthSession), the guest agent's login API as a client (agent.go), the
// per-session egress allow-list it asks for, and the expiry job. It holds no HTTP routes (package
// web serves them, the viewer included) and no SQL (polydev.AuthSessionStore).
package authsession
