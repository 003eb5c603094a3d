//go:build !(goexperiment.simd && amd64)

package passthrough

// blockScan is off without vector compares (scan_blocks_amd64.go needs GOEXPERIMENT=simd): a
// block scan over masks made a byte at a time would be slower than skipContainer.
const blockScan = false

func skipContainerBlocks(b []byte, i int) (int, bool) { return skipContainer(b, i) }
