package polydev

import "testing"

func TestVMTypeAndStateValid(t *testing.T) {
	t.Parallel()
	for _, typ := range VMTypes {
		if !typ.Valid() {
			t.Errorf("%q not valid", typ)
		}
	}
	for _, typ := range []VMType{"", "Browser", "cli ", "gpu"} {
		if typ.Valid() {
			t.Errorf("%q valid", typ)
		}
	}
	for _, s := range VMStates {
		if !s.Valid() {
			t.Errorf("%q not valid", s)
		}
	}
	for _, s := range []VMState{"", "paused", "Running"} {
		if s.Valid() {
			t.Errorf("%q valid", s)
		}
	}
	if ErrorCode(ErrVMOff) != EUNAVAILABLE {
		t.Errorf("ErrVMOff code = %q", ErrorCode(ErrVMOff))
	}
}
