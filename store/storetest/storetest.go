// Package storetest is the one test suite every polydev.Store engine must pass. Engine packages call
// Run from their own tests with a function that opens a fresh, migrated, empty store.
package storetest

import (
	"context"
	"testing"

	"github.com/polydev/polydev"
)

// Opener returns a fresh store for one test. It registers its own cleanup with t.
type Opener func(t *testing.T) polydev.Store

// Run runs the whole suite against the engine that open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s polydev.Store)
	}{
		{"Users", testUsers},
		{"UserEmailUnique", testUserEmailUnique},
		{"UserDisableAndList", testUserDisableAndList},
		{"HostileLookups", testHostileLookups},
		{"EmailVerified", testEmailVerified},
		{"MailTokens", testMailTokens},
		{"MailTokenConsumeConcurrent", testMailTokenConsumeConcurrent},
		{"Sessions", testSessions},
		{"SessionExpiry", testSessionExpiry},
		{"Tokens", testTokens},
		{"TokenIsolation", testTokenIsolation},
		{"TierLimitsSeeded", testTierLimitsSeeded},
		{"TierLimitsPut", testTierLimitsPut},
		{"TierLimitsPutAtomic", testTierLimitsPutAtomic},
		{"PriceOverrides", testPriceOverrides},
		{"PriceImport", testPriceImport},
		{"Usage", testUsage},
		{"UsageUnpriced", testUsageUnpriced},
		{"SpendSaturates", testSpendSaturates},
		{"ReserveBudget", testReserveBudget},
		{"ReserveRequestLimits", testReserveRequestLimits},
		{"ReserveConcurrent", testReserveConcurrent},
		{"ReserveLimitsConcurrent", testReserveLimitsConcurrent},
		{"ExpiredReservations", testExpiredReservations},
		{"UserRequestLimits", testUserRequestLimits},
		{"ProviderKeys", testProviderKeys},
		{"ProviderKeyUpdate", testProviderKeyUpdate},
		{"ProviderKeyIsolation", testProviderKeyIsolation},
		{"ProviderKeyHostileIDs", testProviderKeyHostileIDs},
		{"ProviderKeyDelete", testProviderKeyDelete},
		{"ProviderKeyResetUsage", testProviderKeyResetUsage},
		{"ProviderKeyReorder", testProviderKeyReorder},
		{"ProviderKeySecretBytes", testProviderKeySecretBytes},
		{"DataKeys", testDataKeys},
		{"DataKeysBefore", testDataKeysBefore},
		{"SwapDataKey", testSwapDataKey},
		{"CountDataKeysByKEK", testCountDataKeysByKEK},
		{"UserSettings", testUserSettings},
		{"Conversations", testConversations},
		{"ConversationIsolation", testConversationIsolation},
		{"ConversationConcurrentAppend", testConversationConcurrentAppend},
		{"EphemeralConversations", testEphemeralConversations},
		{"UsageStats", testUsageStats},
		{"RequestLogs", testRequestLogs},
		{"VMs", testVMs},
		{"VMIsolation", testVMIsolation},
		{"VMStateCAS", testVMStateCAS},
		{"CLIStatus", testCLIStatus},
		{"TokenScopes", testTokenScopes},
		{"Subscriptions", testSubscriptions},
		{"BillingEventConcurrent", testBillingEventConcurrent},
		{"AuthSessions", testAuthSessions},
		{"AuthSessionRace", testAuthSessionRace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			tc.fn(t, s)
		})
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

// mustCode fails t unless err carries the polydev error code want.
func mustCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := polydev.ErrorCode(err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
