package policy

import (
	"testing"

	"github.com/polydev/polydev"
)

func TestResolveEphemeral(t *testing.T) {
	t.Parallel()
	on, off := true, false
	tests := []struct {
		rule          polydev.EphemeralRule
		choice        *bool
		want, canChng bool
	}{
		{polydev.EphemeralUnavailable, nil, false, false},
		{polydev.EphemeralUnavailable, &on, false, false}, // a choice from a higher tier does not survive a downgrade
		{polydev.EphemeralOptIn, nil, false, true},
		{polydev.EphemeralOptIn, &on, true, true},
		{polydev.EphemeralDefaultOn, nil, true, true},
		{polydev.EphemeralDefaultOn, &off, false, true},
		{polydev.EphemeralForced, nil, true, false},
		{polydev.EphemeralForced, &off, true, false},
		{"bogus", &on, false, false},
	}
	for _, tc := range tests {
		got := ResolveEphemeral(tc.rule, tc.choice)
		if got.On != tc.want || got.CanChange != tc.canChng || got.Rule != tc.rule {
			t.Errorf("ResolveEphemeral(%s, %v) = %+v, want on=%v canChange=%v", tc.rule, tc.choice, got, tc.want, tc.canChng)
		}
	}
}

func TestCheckEphemeralChoice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule polydev.EphemeralRule
		on   bool
		want string
	}{
		{polydev.EphemeralUnavailable, true, polydev.EFORBIDDEN},
		{polydev.EphemeralUnavailable, false, ""},
		{polydev.EphemeralOptIn, true, ""},
		{polydev.EphemeralOptIn, false, ""},
		{polydev.EphemeralDefaultOn, true, ""},
		{polydev.EphemeralDefaultOn, false, ""},
		{polydev.EphemeralForced, true, ""},
		{polydev.EphemeralForced, false, polydev.EFORBIDDEN},
	}
	for _, tc := range tests {
		if got := polydev.ErrorCode(CheckEphemeralChoice(polydev.TierPro, tc.rule, tc.on)); got != tc.want {
			t.Errorf("CheckEphemeralChoice(%s, %v) = %q, want %q", tc.rule, tc.on, got, tc.want)
		}
	}
}
