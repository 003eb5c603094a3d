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

// TestCheckStrictChoice: strict ephemeral can be turned on wherever ephemeral mode exists, and off
// anywhere.
func TestCheckStrictChoice(t *testing.T) {
	t.Parallel()
	for _, rule := range []polydev.EphemeralRule{polydev.EphemeralUnavailable, polydev.EphemeralOptIn, polydev.EphemeralDefaultOn, polydev.EphemeralForced} {
		err := CheckStrictChoice(polydev.TierFree, rule, true)
		if (err != nil) != (rule == polydev.EphemeralUnavailable) || err != nil && polydev.ErrorCode(err) != polydev.EFORBIDDEN {
			t.Errorf("strict on under %s: %v", rule, err)
		}
		if err := CheckStrictChoice(polydev.TierFree, rule, false); err != nil {
			t.Errorf("strict off under %s: %v", rule, err)
		}
	}
}
