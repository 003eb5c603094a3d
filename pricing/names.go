package pricing

import (
	"context"
	"strings"
	"unicode"

	"github.com/polydev/polydev"
)

// Resolution is a client's model name resolved against the price table.
type Resolution struct {
	Provider polydev.Provider
	// Upstream is the model id the provider is asked for: the client's own id, normalised, so that a
	// dated id reaches the provider as that exact version.
	Upstream string
	// Price is the price the request is billed at (a dated id's is its family's, unless the table
	// lists the dated id itself); nil when the table does not know the model.
	Price *polydev.ModelPrice
}

// maxModelName bounds a model name: longer ones are refused rather than echoed or stored.
const maxModelName = 200

// Resolve normalises a client's model name and finds its price.
//
//   - Surrounding whitespace is dropped and the provider prefix is matched without regard to case.
//     OpenAI, Anthropic and Gemini ids are lower case, so theirs are lower-cased; an
//     openai-compatible id keeps its case for the upstream (a self-hosted server may tell case
//     apart) but is matched against the table without it.
//   - The price is found by, in order: the table's name, one of its aliases, then the name without
//     its version suffix (a date such as -20251001 or -2024-08-06, -latest, a -001 revision, a
//     Gemini -preview-09-2025 or -preview-06-17), again as a name or an alias.
//   - A bare name (no provider/ prefix) must be known to the table, which names its provider.
//
// EINVALID for an empty or malformed name, or a bare name the table does not know; a well-formed
// provider/model the table does not know resolves with a nil Price, and the caller decides whether
// it may run unpriced.
func (t *Table) Resolve(ctx context.Context, name string) (*Resolution, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, polydev.Errorf(polydev.EINVALID, "model is required, e.g. openai/gpt-4o-mini")
	}
	if len(name) > maxModelName || strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return nil, polydev.Errorf(polydev.EINVALID, "model %q is not a model name", truncate(name, 80))
	}
	sn, err := t.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	prefix, id, hasPrefix := strings.Cut(name, "/")
	prov := polydev.Provider(strings.ToLower(prefix))
	if !hasPrefix || !prov.Valid() {
		return sn.resolveBare(name)
	}
	if id == "" {
		return nil, polydev.Errorf(polydev.EINVALID, "model %q names no model after the provider", truncate(name, 80))
	}
	if prov != polydev.ProviderOpenAICompatible {
		id = strings.ToLower(id)
	}
	res := &Resolution{Provider: prov, Upstream: id}
	if full, exact := sn.find(string(prov) + "/" + strings.ToLower(id)); full != "" {
		res.Price = sn.byModel[full].ModelPrice
		if exact {
			_, res.Upstream, _ = polydev.SplitModel(full) // the table's spelling
		}
	}
	return res, nil
}

// find looks a lower-case "provider/model" up: by name, alias, then without its version suffix.
// exact reports a match on the table's own name.
func (sn *snapshot) find(lower string) (full string, exact bool) {
	if full, ok := sn.byName[lower]; ok {
		return full, true
	}
	if full, ok := sn.aliases[lower]; ok {
		return full, false
	}
	if family := withoutVersion(lower); family != "" {
		if full, ok := sn.byName[family]; ok {
			return full, false
		}
		if full, ok := sn.aliases[family]; ok {
			return full, false
		}
	}
	return "", false
}

func (sn *snapshot) resolveBare(name string) (*Resolution, error) {
	lower := strings.ToLower(name)
	full, ok := sn.bare[lower]
	if !ok {
		if family := withoutVersion(lower); family != "" {
			full, ok = sn.bare[family]
		}
	}
	if !ok {
		return nil, polydev.Errorf(polydev.EINVALID, "unknown model %q: name it provider/model (openai/, anthropic/, gemini/ or openai-compatible/)", truncate(name, 80))
	}
	prov, tableID, _ := polydev.SplitModel(full)
	res := &Resolution{Provider: prov, Upstream: lower, Price: sn.byModel[full].ModelPrice}
	if prov == polydev.ProviderOpenAICompatible {
		// A compatible server's ids keep their case: the admin's spelling when the name is the
		// table's, else the client's.
		res.Upstream = name
		if strings.EqualFold(tableID, name) {
			res.Upstream = tableID
		}
	}
	return res, nil
}

// withoutVersion returns id without one trailing version suffix, or "" when it has none:
// -latest, -YYYYMMDD, -YYYY-MM-DD, -NNN, -preview-MM-YYYY, -preview-MM-DD.
func withoutVersion(id string) string {
	if s, ok := strings.CutSuffix(id, "-latest"); ok {
		return s
	}
	for _, pattern := range []string{"-dddddddd", "-dddd-dd-dd", "-preview-dd-dddd", "-preview-dd-dd", "-ddd"} {
		if n := len(pattern); len(id) > n && matches(id[len(id)-n:], pattern) {
			return id[:len(id)-n]
		}
	}
	return ""
}

// matches reports whether s has pattern's shape: 'd' is any ASCII digit, anything else itself.
func matches(s, pattern string) bool {
	for i := range len(pattern) {
		if pattern[i] == 'd' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != pattern[i] {
			return false
		}
	}
	return true
}
