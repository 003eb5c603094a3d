package egress

import (
	"fmt"
	"slices"
)

// Providers are the coding CLIs a login session can sign in to, by the names the sessions API
// takes.
var Providers = []string{"claude_code", "codex_cli", "gemini_cli"}

// providerHosts is the one table of what each CLI's login needs: the hosts its OAuth flow and the
// sign-in pages it opens load from, and the API hosts the CLI calls right after login (token
// exchange, account and quota checks). Ports are 443. The sources, read 2026-12-06:
//
//   - claude_code: Claude Code's docs (authentication, network configuration): sign-in through
//     claude.ai (Pro/Max plans) or the Console (console.anthropic.com, now platform.claude.com),
//     API at api.anthropic.com, credentials then in ~/.claude/.credentials.json. Its sign-in pages
//     offer "Continue with Google" and are behind Cloudflare's challenge.
//   - codex_cli: Codex's docs (codex login): "Sign in with ChatGPT" opens auth.openai.com/authorize
//     (PKCE, callback on localhost:1455), the CLI then calls chatgpt.com's backend and
//     api.openai.com; the sign-in page loads its assets from *.oaistatic.com and offers Google,
//     Microsoft and Apple accounts and Cloudflare's challenge.
//   - gemini_cli: Gemini CLI's docs (authentication: "Login with Google"): Google's OAuth at
//     accounts.google.com, tokens from oauth2.googleapis.com, then Code Assist at
//     cloudcode-pa.googleapis.com (and the Gemini API at generativelanguage.googleapis.com); the
//     success page is on developers.google.com.
//
// A refused host is logged with the session, so a sign-in page that needs one more host shows
// up in the proxy's log; add it here, not at run time.
var providerHosts = map[string][]string{
	"claude_code": join(
		[]string{"claude.ai", "*.claude.ai", "claude.com", "*.claude.com", "anthropic.com", "*.anthropic.com"},
		googleSignIn, cloudflareChallenge,
	),
	"codex_cli": join(
		[]string{"openai.com", "*.openai.com", "chatgpt.com", "*.chatgpt.com", "*.oaistatic.com"},
		googleSignIn, microsoftSignIn, appleSignIn, cloudflareChallenge,
	),
	"gemini_cli": join(
		[]string{"oauth2.googleapis.com", "www.googleapis.com", "cloudcode-pa.googleapis.com",
			"generativelanguage.googleapis.com", "developers.google.com"},
		googleSignIn,
	),
}

// Sign-in pages of identity providers the CLIs' login pages offer, with the static hosts those
// pages load from.
var (
	googleSignIn = []string{"accounts.google.com", "apis.google.com", "ssl.gstatic.com", "www.gstatic.com",
		"fonts.gstatic.com", "fonts.googleapis.com", "lh3.googleusercontent.com"}
	microsoftSignIn     = []string{"login.microsoftonline.com", "login.live.com", "*.msauth.net", "*.msftauth.net"}
	appleSignIn         = []string{"appleid.apple.com", "*.cdn-apple.com"}
	cloudflareChallenge = []string{"challenges.cloudflare.com"}
)

func join(groups ...[]string) []string { return slices.Concat(groups...) }

// ProviderRules returns the allow-list of a provider's login: its hosts on port 443.
func ProviderRules(provider string) ([]Rule, error) {
	hosts, ok := providerHosts[provider]
	if !ok {
		return nil, fmt.Errorf("egress: unknown provider %q (want one of %v)", provider, Providers)
	}
	rules := make([]Rule, len(hosts))
	for i, h := range hosts {
		rules[i] = Rule{Host: h}
	}
	return rules, nil
}
