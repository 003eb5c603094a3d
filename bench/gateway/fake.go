package main

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polydev/polydev/internal/testkit"
)

// benchTB lets this standalone program use internal/testkit's fakes, whose constructors take a
// testing.TB. testing.TB cannot be implemented outside package testing (it has an unexported
// method), but a struct embedding the interface inherits that method: the embedded value is nil,
// and only the methods testkit calls outside assertions are given real bodies here. Should
// testkit start calling another one, the program stops at once with a nil-pointer panic pointing
// at the call, rather than misbehaving quietly.
type benchTB struct {
	testing.TB
	cleanups []func()
}

func (*benchTB) Helper()                           {}
func (t *benchTB) Cleanup(f func())                { t.cleanups = append(t.cleanups, f) }
func (*benchTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (*benchTB) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (*benchTB) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (*benchTB) Logf(string, ...any)               {}
func (*benchTB) Name() string                      { return "bench/gateway" }

// close runs the cleanups in reverse order, as testing does.
func (t *benchTB) close() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// Fake is the shared upstream every target reaches in the end: testkit's fake OpenAI API (Up) and
// fake Anthropic API (Anth) on 127.0.0.1, without request recording (it would grow without bound
// during a benchmark).
type Fake struct {
	tb          *benchTB
	Up          *testkit.Upstream
	Anth        *testkit.Upstream
	disconnects atomic.Int64
}

func startFake(firstByte, jitter, tokenDelay time.Duration, chunks int) *Fake {
	f := &Fake{tb: &benchTB{}}
	f.Up = testkit.NewOpenAI(f.tb,
		testkit.WithoutRecording(),
		testkit.WithFirstByteLatency(firstByte),
		testkit.WithFirstByteJitter(jitter),
		testkit.WithTokenDelay(tokenDelay),
		testkit.WithScript(fastScript(chunks)),
		testkit.WithOnDisconnect(func(testkit.Disconnect) { f.disconnects.Add(1) }),
	)
	anth := fastScript(chunks)
	anth.Model = "claude-sonnet-4-5-20250929"
	f.Anth = testkit.NewAnthropic(f.tb,
		testkit.WithoutRecording(),
		testkit.WithFirstByteLatency(firstByte),
		testkit.WithFirstByteJitter(jitter),
		testkit.WithTokenDelay(tokenDelay),
		testkit.WithScript(anth),
	)
	return f
}

// upstream returns the fake that provider's keys point at, with its key.
func (f *Fake) upstream(provider string) *testkit.Upstream {
	if provider == "anthropic" {
		return f.Anth
	}
	return f.Up
}

// fastScript is the answer for latency measurements: the default text and usage.
func fastScript(chunks int) testkit.Script {
	s := testkit.DefaultScript()
	s.Chunks = chunks
	s.Model = "gpt-4o-mini"
	return s
}

// slowScript is the answer while streams are held open: words tokens, one per delay.
func slowScript(words int, delay time.Duration) testkit.Script {
	s := testkit.DefaultScript()
	s.Text = strings.TrimSpace(strings.Repeat("tok ", words))
	s.Chunks = words
	s.TokenDelay = delay
	s.Model = "gpt-4o-mini"
	return s
}

func (f *Fake) Close() { f.tb.close() }
