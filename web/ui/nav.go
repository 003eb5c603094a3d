package ui

import "github.com/polydev/polydev"

// navItem is one entry of the top navigation.
type navItem struct {
	Key, Label, Href string
}

// userNav is the navigation of a signed-in user, in order. A new page adds its entry here (and
// admin pages to adminNav); Key is what the page's view sets as Nav to be marked current.
var userNav = []navItem{
	{"dashboard", "Dashboard", "/dashboard"},
	{"chat", "Chat", "/chat"},
	{"security", "Security", "/settings/security"},
	{"tokens", "API tokens", "/settings/tokens"},
	{"mcp", "MCP", "/settings/mcp"},
	{"subscription", "Plan", "/settings/subscription"},
	{"logs", "Request logs", "/logs"},
	{"vms", "VMs", "/vms"},
	{"logins", "Logins", "/logins"},
}

// adminNav is shown to administrators after userNav (the admin pages register their routes).
var adminNav = []navItem{
	{"admin", "Admin", "/admin"},
}

// publicNav is what a visitor sees.
var publicNav = []navItem{
	{"pricing", "Pricing", "/pricing"},
	{"login", "Log in", "/login"},
	{"signup", "Sign up", "/signup"},
}

func navFor(u *polydev.User) []navItem {
	switch {
	case u == nil:
		return publicNav
	case u.IsAdmin():
		return append(append(append([]navItem(nil), userNav...), adminNav...), navItem{"pricing", "Pricing", "/pricing"})
	}
	return append(append([]navItem(nil), userNav...), navItem{"pricing", "Pricing", "/pricing"})
}
