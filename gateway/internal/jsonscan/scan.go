// Package jsonscan is a small validating pull parser for JSON, used on the streaming hot path to
// read provider stream events without reflection: a decoder walks an event's members, takes the
// few it needs and skips the rest (every skipped byte is still validated). It owns parsing only.
//
// Compared with encoding/json it is stricter in two ways: keys match exactly (encoding/json also
// accepts other letter cases), and a value of the wrong type is an error. Strings are returned
// unescaped; invalid UTF-8 is passed through (renderers re-escape it), lone surrogate escapes
// become U+FFFD as in encoding/json.
package jsonscan

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrSyntax is returned for anything that is not valid JSON, or not the expected type.
var ErrSyntax = errors.New("jsonscan: invalid JSON")

// maxDepth bounds nesting in skipped values, so hostile input cannot exhaust the stack.
const maxDepth = 512

// Scanner reads one JSON document. The zero value is unusable; call Reset.
type Scanner struct {
	b         []byte
	i         int
	err       error
	afterOpen bool   // just consumed '{' or '[': no comma expected before the next member
	scratch   []byte // unescaped keys
}

// Reset starts scanning b.
func (s *Scanner) Reset(b []byte) {
	s.b, s.i, s.err, s.afterOpen = b, 0, nil, false
}

// Err returns the first error.
func (s *Scanner) Err() error { return s.err }

func (s *Scanner) fail() {
	if s.err == nil {
		s.err = ErrSyntax
	}
	s.i = len(s.b)
}

func (s *Scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next significant byte, or 0 at the end.
func (s *Scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// Object consumes '{'. It fails (and returns false) on anything else.
func (s *Scanner) Object() bool {
	if s.err != nil || s.peek() != '{' {
		s.fail()
		return false
	}
	s.i++
	s.afterOpen = true
	return true
}

// Key returns the next member's key, positioned before its value (which the caller must consume
// with a value method or Skip), or false once '}' was consumed or on error. The key is valid until
// the next call.
func (s *Scanner) Key() ([]byte, bool) {
	if s.err != nil {
		return nil, false
	}
	c := s.peek()
	if c == '}' {
		s.i++
		s.afterOpen = false
		return nil, false
	}
	if !s.afterOpen {
		if c != ',' {
			s.fail()
			return nil, false
		}
		s.i++
		c = s.peek()
	}
	s.afterOpen = false
	if c != '"' {
		s.fail()
		return nil, false
	}
	key, ok := s.str(true)
	if !ok || s.peek() != ':' {
		s.fail()
		return nil, false
	}
	s.i++
	return key, true
}

// Array consumes '['.
func (s *Scanner) Array() bool {
	if s.err != nil || s.peek() != '[' {
		s.fail()
		return false
	}
	s.i++
	s.afterOpen = true
	return true
}

// Elem reports whether another element follows (positioned before it), or false once ']' was
// consumed or on error.
func (s *Scanner) Elem() bool {
	if s.err != nil {
		return false
	}
	c := s.peek()
	if c == ']' {
		s.i++
		s.afterOpen = false
		return false
	}
	if !s.afterOpen {
		if c != ',' {
			s.fail()
			return false
		}
		s.i++
	}
	s.afterOpen = false
	return true
}

// Null consumes a null and reports true, or reports false and consumes nothing.
func (s *Scanner) Null() bool {
	if s.err != nil || s.peek() != 'n' {
		return false
	}
	if len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		s.afterOpen = false
		return true
	}
	s.fail()
	return false
}

// String returns a string value.
func (s *Scanner) String() string {
	b, ok := s.Bytes()
	if !ok {
		return ""
	}
	return string(b)
}

// Bytes returns a string value unescaped, valid until the next call (it may alias the input).
func (s *Scanner) Bytes() ([]byte, bool) {
	if s.err != nil || s.peek() != '"' {
		s.fail()
		return nil, false
	}
	s.afterOpen = false
	return s.str(true)
}

// StringOrNull returns a string value, or "" for null.
func (s *Scanner) StringOrNull() string {
	if s.Null() {
		return ""
	}
	return s.String()
}

// Bool returns a boolean value.
func (s *Scanner) Bool() bool {
	if s.err != nil {
		return false
	}
	s.afterOpen = false
	switch s.peek() {
	case 't':
		if len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "true" {
			s.i += 4
			return true
		}
	case 'f':
		if len(s.b)-s.i >= 5 && string(s.b[s.i:s.i+5]) == "false" {
			s.i += 5
			return false
		}
	}
	s.fail()
	return false
}

// Int returns an integer value (a number without fraction or exponent that fits an int64).
func (s *Scanner) Int() int {
	if s.err != nil {
		return 0
	}
	s.afterOpen = false
	s.ws()
	start := s.i
	isInt, ok := s.number()
	if !ok || !isInt {
		s.fail()
		return 0
	}
	n, err := strconv.ParseInt(string(s.b[start:s.i]), 10, 64)
	if err != nil || int64(int(n)) != n {
		s.fail()
		return 0
	}
	return int(n)
}

// Skip consumes any value, validating it, and returns its bytes.
func (s *Scanner) Skip() []byte {
	if s.err != nil {
		return nil
	}
	s.afterOpen = false
	s.ws()
	start := s.i
	if !s.skip(0) {
		s.fail()
		return nil
	}
	return s.b[start:s.i]
}

// End checks that nothing but whitespace follows the document.
func (s *Scanner) End() error {
	if s.err == nil {
		if s.ws(); s.i != len(s.b) {
			s.fail()
		}
	}
	return s.err
}

func (s *Scanner) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch s.peek() {
	case '{':
		s.i++
		if s.peek() == '}' {
			s.i++
			return true
		}
		for {
			if s.peek() != '"' {
				return false
			}
			if _, ok := s.str(false); !ok || s.peek() != ':' {
				return false
			}
			s.i++
			if !s.skip(depth + 1) {
				return false
			}
			switch s.peek() {
			case ',':
				s.i++
			case '}':
				s.i++
				return true
			default:
				return false
			}
		}
	case '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return false
			}
		}
	case '"':
		_, ok := s.str(false)
		return ok
	case 't':
		return s.lit("true")
	case 'f':
		return s.lit("false")
	case 'n':
		return s.lit("null")
	}
	_, ok := s.number()
	return ok
}

func (s *Scanner) lit(l string) bool {
	if len(s.b)-s.i >= len(l) && string(s.b[s.i:s.i+len(l)]) == l {
		s.i += len(l)
		return true
	}
	return false
}

// number consumes a JSON number and reports whether it is an integer.
func (s *Scanner) number() (isInt, ok bool) {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return false, false
	}
	isInt = true
	if i < len(b) && b[i] == '.' {
		i++
		isInt = false
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false, false
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		isInt = false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false, false
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	s.i = i
	return isInt, true
}

// str consumes a string at s.i (which holds '"'). With unescape it returns the unescaped bytes,
// aliasing the input when there are no escapes.
func (s *Scanner) str(unescape bool) ([]byte, bool) {
	b := s.b
	i := s.i + 1
	start := i
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			s.i = i + 1
			return b[start:i], true
		case c == '\\':
			if !unescape {
				if i+1 >= len(b) {
					return nil, false
				}
				switch b[i+1] {
				case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
					i += 2
				case 'u':
					if i+6 > len(b) || !isHex4(b[i+2:i+6]) {
						return nil, false
					}
					i += 6
				default:
					return nil, false
				}
				continue
			}
			return s.unescape(start, i)
		case c < 0x20:
			return nil, false
		default:
			i++
		}
	}
	return nil, false
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c <= '9':
			r |= rune(c - '0')
		case c >= 'a':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// unescape continues a string from i (at a backslash) into the scratch buffer.
func (s *Scanner) unescape(start, i int) ([]byte, bool) {
	b := s.b
	out := append(s.scratch[:0], b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			s.i = i + 1
			s.scratch = out
			return out, true
		case c < 0x20:
			return nil, false
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			return nil, false
		}
		switch b[i+1] {
		case '"', '\\', '/':
			out = append(out, b[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+6 > len(b) || !isHex4(b[i+2:i+6]) {
				return nil, false
			}
			r := hex4(b[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' && isHex4(b[i+2:i+6]) {
					if dec := utf16.DecodeRune(r, hex4(b[i+2:])); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return nil, false
		}
		i += 2
	}
	return nil, false
}
