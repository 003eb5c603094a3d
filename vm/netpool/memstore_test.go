package netpool_test

import (
	"testing"

	"github.com/polydev/polydev/vm/netpool"
	"github.com/polydev/polydev/vm/netpool/leasetest"
)

func TestMemStoreContract(t *testing.T) {
	t.Parallel()
	leasetest.Run(t, func(*testing.T) netpool.LeaseStore { return new(netpool.MemStore) })
}
