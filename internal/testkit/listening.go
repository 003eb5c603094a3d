package testkit

import (
	"bufio"
	"encoding/json"
	"io"
)

// ListenAddr reads `polydev serve`'s JSON log from r (its stderr through a pipe, with
// POLYDEV_LOG_FORMAT=json) and sends the address of its "listening" line on the returned channel.
// It keeps reading r to its end afterwards, so the server never blocks writing its log; the channel
// gets nothing if r ends first.
func ListenAddr(r io.Reader) <-chan string {
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
				break
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	return addr
}
