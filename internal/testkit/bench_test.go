package testkit

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"testing"
)

// BenchmarkStream measures a fake serving whole default streams, client
// included, to show the fakes are cheap next to what they stand in for.
// The 512 variant runs 512 concurrent streams, the gateway benchmark's load.
//
//	go test ./internal/testkit -run '^$' -bench Stream -benchmem
func BenchmarkStream(b *testing.B) {
	for _, c := range constructors {
		for _, conc := range []int{1, 512} {
			b.Run(string(c.p)+"/conc="+itoa(conc), func(b *testing.B) {
				u := c.new(b, WithoutRecording())
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 0}}
				defer client.CloseIdleConnections()
				req := generation(c.p, true)
				b.SetParallelism(max(1, conc/max(1, runtimeProcs())))
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						resp, err := client.Do(req.request(b, context.Background(), u))
						if err != nil {
							b.Error(err)
							return
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				})
			})
		}
	}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

func itoa(n int) string { return strconv.Itoa(n) }
