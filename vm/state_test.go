package vm

import "testing"

func TestStateCanBecome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from, to State
		want     bool
	}{
		{StateCreated, StateRunning, true},
		{StateCreated, StatePaused, false},
		{StateRunning, StatePaused, true},
		{StatePaused, StateRunning, true},
		{StateRunning, StateStopped, true},
		{StateStopped, StateRunning, true},
		{StateStopped, StatePaused, false},
		{StateRunning, StateFailed, true},
		{StateFailed, StateRunning, false},
		{StateFailed, StateFailed, true},
		{StateRunning, StateRunning, true},
		{StateStopped, StateCreated, false},
		{"bogus", StateRunning, false},
		{StateRunning, "", false},
	}
	for _, tt := range tests {
		if got := tt.from.CanBecome(tt.to); got != tt.want {
			t.Errorf("%q.CanBecome(%q) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestParseState(t *testing.T) {
	t.Parallel()
	for _, s := range States {
		got, err := ParseState(string(s))
		if err != nil || got != s {
			t.Errorf("ParseState(%q) = %q, %v", s, got, err)
		}
	}
	for _, bad := range []string{"", "Running", "deleted"} {
		if _, err := ParseState(bad); err == nil {
			t.Errorf("ParseState(%q) succeeded, want error", bad)
		}
	}
}
