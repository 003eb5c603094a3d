package vault

import (
	"bytes"
	"testing"
)

func TestAADEncodingIsUnambiguous(t *testing.T) {
	t.Parallel()
	pairs := []struct {
		name string
		a, b AAD
	}{
		{"separator in table", AAD{Table: "a|b", Column: "c"}, AAD{Table: "a", Column: "b|c"}},
		{"shifted boundary", AAD{Table: "ab", Column: "c"}, AAD{Table: "a", Column: "bc"}},
		{"row vs user", AAD{Table: "t", Column: "c", RowID: "x"}, AAD{Table: "t", Column: "c", UserID: "x"}},
		{"empty vs zero byte", AAD{Table: "t", Column: "c"}, AAD{Table: "t", Column: "c", RowID: "\x00"}},
		{"length prefix forged", AAD{Table: "t", Column: "c\x00\x00\x00\x01x"}, AAD{Table: "t", Column: "c", RowID: "x"}},
	}
	for _, p := range pairs {
		ea, err := p.a.encode()
		if err != nil {
			t.Fatal(err)
		}
		eb, err := p.b.encode()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(ea, eb) {
			t.Errorf("%s: %+v and %+v encode the same", p.name, p.a, p.b)
		}
	}
}

func TestAADEncodingBytes(t *testing.T) {
	t.Parallel()
	got, err := AAD{Table: "t", Column: "col", RowID: "", UserID: "u1"}.encode()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("\x00\x00\x00\x01t\x00\x00\x00\x03col\x00\x00\x00\x00\x00\x00\x00\x02u1")
	if !bytes.Equal(got, want) {
		t.Errorf("encode = %q, want %q", got, want)
	}
}

func TestAADRequiresTableAndColumn(t *testing.T) {
	t.Parallel()
	for _, a := range []AAD{{}, {Table: "t"}, {Column: "c"}, {RowID: "r", UserID: "u"}} {
		if _, err := Seal(testKey(1), 1, a, []byte("x")); err == nil {
			t.Errorf("Seal with %+v: want error", a)
		}
		if _, err := Open(testKey(1), a, nil); err == nil {
			t.Errorf("Open with %+v: want error", a)
		}
	}
}
