package agent

import (
	"testing"
	"unsafe"
)

// The real clock and entropy calls are not run here: they would act on the test host. The guest runs
// them in vm/qemu's TestRealQEMU, which checks the stepped clock and "credited".
func TestRandPoolInfoLayout(t *testing.T) {
	t.Parallel()
	// _IOW('R', 0x03, int[2]): write direction, 8-byte argument, type 'R', number 3.
	if want := 1<<30 | 8<<16 | 'R'<<8 | 3; rndAddEntropy != want {
		t.Fatalf("RNDADDENTROPY = %#x, want %#x", rndAddEntropy, want)
	}
	if got := unsafe.Sizeof(randPoolInfo{}); got != 8+SeedLen {
		t.Fatalf("rand_pool_info is %d bytes, want %d", got, 8+SeedLen)
	}
}
