package auth

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/polydev/polydev"
)

// MaxEmailLen is the longest address accepted (RFC 5321's path limit).
const MaxEmailLen = 254

// NormalizeEmail makes one mailbox map to one account: the address is trimmed, put in Unicode
// normal form C (so "é" typed as one code point or as e + combining accent is the same address) and
// lower-cased, and must be a plain address without a display name. Invalid UTF-8 is refused rather
// than repaired, and so is a local part or domain that mixes scripts (a Cyrillic "а" among Latin
// letters): such look-alikes would let a second account pose as the first.
func NormalizeEmail(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", polydev.Errorf(polydev.EINVALID, "email is not valid UTF-8")
	}
	s = strings.ToLower(norm.NFC.String(strings.TrimSpace(s)))
	if s == "" {
		return "", polydev.Errorf(polydev.EINVALID, "email is required")
	}
	if len(s) > MaxEmailLen {
		return "", polydev.Errorf(polydev.EINVALID, "email is too long")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", polydev.Errorf(polydev.EINVALID, "email is not a valid address")
	}
	local, domain, _ := strings.Cut(s, "@")
	for _, part := range []string{local, domain} {
		for _, label := range strings.Split(part, ".") {
			if mixedScripts(label) {
				return "", polydev.Errorf(polydev.EINVALID, "email mixes letters of different scripts; use one script per part of the address")
			}
		}
	}
	return s, nil
}

// scripts are the writing systems told apart by mixedScripts. Letters of no listed script, digits
// and punctuation (script Common or Inherited) never count as a mix.
var scripts = []struct {
	name  string
	table *unicode.RangeTable
}{
	{"latin", unicode.Latin}, {"cyrillic", unicode.Cyrillic}, {"greek", unicode.Greek},
	{"armenian", unicode.Armenian}, {"georgian", unicode.Georgian}, {"cherokee", unicode.Cherokee},
	{"arabic", unicode.Arabic}, {"hebrew", unicode.Hebrew}, {"devanagari", unicode.Devanagari},
	{"thai", unicode.Thai}, {"hangul", unicode.Hangul},
	// Japanese writes Han, Hiragana and Katakana together: one family.
	{"cjk", unicode.Han}, {"cjk", unicode.Hiragana}, {"cjk", unicode.Katakana},
}

// mixedScripts reports whether s holds letters of two different scripts.
func mixedScripts(s string) bool {
	seen := ""
	for _, r := range s {
		if r < utf8.RuneSelf {
			if unicode.IsLetter(r) {
				if seen != "" && seen != "latin" {
					return true
				}
				seen = "latin"
			}
			continue
		}
		for _, sc := range scripts {
			if unicode.Is(sc.table, r) {
				if seen != "" && seen != sc.name {
					return true
				}
				seen = sc.name
				break
			}
		}
	}
	return false
}
