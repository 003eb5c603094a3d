//go:build !unix

package web

func openFileLimit() uint64 { return 0 }
