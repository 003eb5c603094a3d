//go:build !(goexperiment.simd && amd64)

package passthrough

// vectorScans: none without vector compares.
var vectorScans []struct {
	name string
	skip func([]byte, int) (int, bool)
}
