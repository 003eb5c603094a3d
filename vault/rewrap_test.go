package vault_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/vault"
)

// sealOwners seals one value for each of n owners (n-1 users and the platform).
func sealOwners(t *testing.T, v *vault.Vault, n int) []value {
	t.Helper()
	vals := []value{mustSeal(t, v, polydev.PlatformOwner)}
	for len(vals) < n {
		vals = append(vals, mustSeal(t, v, polydev.NewID()))
	}
	return vals
}

// rounds lets the test wait, without sleeping, until every worker has finished one more iteration.
type rounds struct {
	workers int
	cur     atomic.Pointer[sync.WaitGroup]
}

// wait returns once every worker has ended an iteration after wait was called.
func (r *rounds) wait() {
	wg := new(sync.WaitGroup)
	wg.Add(r.workers)
	r.cur.Store(wg)
	wg.Wait()
}

// worker is one worker's view of rounds; done is called at the end of each iteration.
type worker struct {
	r    *rounds
	last *sync.WaitGroup
}

func (w *worker) done() {
	if wg := w.r.cur.Load(); wg != nil && wg != w.last {
		w.last = wg
		wg.Done()
	}
}

// errList collects errors from many goroutines.
type errList struct {
	mu   sync.Mutex
	errs []error
}

func (l *errList) add(err error) {
	if err != nil {
		l.mu.Lock()
		l.errs = append(l.errs, err)
		l.mu.Unlock()
	}
}

func (l *errList) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(l.errs...)
}

// TestRewrapUnderLoad rotates the master key and rewraps every data key while writers seal values for
// new owners and readers open existing ones: no request may fail, no key may stay on the old version,
// and after the old version is retired every value still opens.
func TestRewrapUnderLoad(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open opener) {
		path, kr := newKeyFile(t)
		s := open(t)
		v := vault.NewVault(kr, s, path)
		existing := sealOwners(t, v, 30)

		const writers, readers = 3, 3
		r := &rounds{workers: writers + readers}
		stop := make(chan struct{})
		var errs errList
		var mu sync.Mutex
		var written []value
		writtenOwners := map[string]bool{}
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				w := &worker{r: r}
				for {
					select {
					case <-stop:
						return
					default:
					}
					val, err := sealValue(t.Context(), v, polydev.NewID())
					if err == nil {
						err = val.open(t.Context(), v)
						mu.Lock()
						written = append(written, val)
						writtenOwners[val.owner] = true
						mu.Unlock()
					}
					errs.add(wrapErr("writer", i, err))
					w.done()
				}
			})
		}
		for i := range readers {
			wg.Go(func() {
				w := &worker{r: r}
				for j := i; ; j++ {
					select {
					case <-stop:
						return
					default:
					}
					val := existing[(j*7)%len(existing)]
					errs.add(wrapErr("reader (cached)", i, val.open(t.Context(), v)))
					// A vault with an empty cache, as on another replica: it unwraps whatever the
					// store holds right now, on the old version or the new one.
					errs.add(wrapErr("reader (uncached)", i, val.open(t.Context(), vault.NewVault(kr, s, path))))
					w.done()
				}
			})
		}
		stopWorkers := sync.OnceFunc(func() { close(stop); wg.Wait() })
		defer stopWorkers()

		r.wait() // every worker is running
		if v2, err := kr.RotateFile(path); err != nil || v2 != 2 {
			t.Fatalf("RotateFile = %d, %v", v2, err)
		}
		moved := 0
		rw := &vault.Rewrapper{Vault: v, Batch: 4, OnMoved: func(string) {
			moved++
			if moved == 1 || moved == len(existing)/2 {
				r.wait() // let every worker run against the half-rewrapped store
			}
		}}
		n, err := rw.RunOnce(t.Context())
		if err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		if n != moved || n < len(existing) {
			t.Fatalf("RunOnce moved %d (hook saw %d), want at least %d", n, moved, len(existing))
		}
		r.wait() // and once more after the pass
		stopWorkers()
		if err := errs.err(); err != nil {
			t.Fatal(err)
		}
		for _, val := range existing {
			row, err := s.DataKey(t.Context(), val.owner)
			if err != nil || row.KEKVersion != 2 {
				t.Fatalf("data key of %s after rewrap: %+v, %v", val.owner, row, err)
			}
		}

		// A writer that wrapped its DEK under v1 just before the rotation may have stored it after
		// the pass went by its owner id: at most one per writer, and the next pass moves it.
		var late []string
		rw = &vault.Rewrapper{Vault: v, OnMoved: func(owner string) { late = append(late, owner) }}
		if _, err := rw.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(late) > writers {
			t.Fatalf("second pass moved %d keys, want at most %d", len(late), writers)
		}
		for _, owner := range late {
			if !writtenOwners[owner] {
				t.Fatalf("second pass moved %s, which the first pass should have", owner)
			}
		}
		if len(written) == 0 {
			t.Fatal("writers sealed nothing")
		}
		t.Logf("%d values written during the rotation; %d keys left for the second pass", len(written), len(late))
		mustCounts(t, s, map[int]int{2: len(existing) + len(written)})

		if err := kr.RetireFile(path, 1); err != nil {
			t.Fatal(err)
		}
		if got := kr.Versions(); !slices.Equal(got, []int{2}) {
			t.Fatalf("versions after retire = %v", got)
		}
		all := append(slices.Clone(existing), written...)
		mustOpenAll(t, v, all)
		mustOpenAll(t, vault.NewVault(kr, s, path), all)
		mustOpenAll(t, vault.NewVault(loadKeyFile(t, path), open(t), path), all) // after a restart
	})
}

func wrapErr(what string, i int, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %d: %w", what, i, err)
}

// TestRewrapKilledMidway stops a rewrap pass after 10 of 50 keys, as a crash or shutdown would, and
// finishes it from a restarted process.
func TestRewrapKilledMidway(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open opener) {
		path, kr := newKeyFile(t)
		v := vault.NewVault(kr, open(t), path)
		const total = 50
		vals := sealOwners(t, v, total)

		// `polydev keys rotate` in another process; the pass picks the new version up from the file.
		if _, err := loadKeyFile(t, path).RotateFile(path); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		moved := 0
		rw := &vault.Rewrapper{Vault: v, Batch: 8, OnMoved: func(string) {
			if moved++; moved == 10 {
				cancel()
			}
		}}
		n, err := rw.RunOnce(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("RunOnce after cancel = %d, %v; want context.Canceled", n, err)
		}
		if n != moved || n < 10 || n >= total {
			t.Fatalf("interrupted pass moved %d (hook saw %d), want about 10", n, moved)
		}
		s := open(t)
		mustCounts(t, s, map[int]int{1: total - n, 2: n})
		mustOpenAll(t, vault.NewVault(loadKeyFile(t, path), s, path), vals) // half-way state is readable

		// Restart: new store connection, key file reloaded, new vault, new rewrapper.
		v2 := vault.NewVault(loadKeyFile(t, path), s, path)
		rest, err := (&vault.Rewrapper{Vault: v2, Batch: 8}).RunOnce(t.Context())
		if err != nil || rest != total-n {
			t.Fatalf("resumed pass = %d, %v; want %d", rest, err, total-n)
		}
		mustCounts(t, s, map[int]int{2: total})
		if again, err := (&vault.Rewrapper{Vault: v2}).RunOnce(t.Context()); err != nil || again != 0 {
			t.Fatalf("pass with nothing left = %d, %v", again, err)
		}

		if err := v2.Keyring().RetireFile(path, 1); err != nil {
			t.Fatal(err)
		}
		mustOpenAll(t, v2, vals)
		mustOpenAll(t, vault.NewVault(loadKeyFile(t, path), open(t), path), vals)
	})
}

// TestRewrapReplicas runs a pass on two replicas at once: each key is moved exactly once.
func TestRewrapReplicas(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open opener) {
		path, kr := newKeyFile(t)
		vals := sealOwners(t, vault.NewVault(kr, open(t), path), 40)
		if _, err := kr.RotateFile(path); err != nil {
			t.Fatal(err)
		}

		var mu sync.Mutex
		movedBy := map[string]int{}
		onMoved := func(owner string) {
			mu.Lock()
			movedBy[owner]++
			mu.Unlock()
		}
		var ns [2]int
		var errs [2]error
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 2 {
			rw := &vault.Rewrapper{Vault: vault.NewVault(loadKeyFile(t, path), open(t), path), Batch: 5, OnMoved: onMoved}
			wg.Go(func() {
				<-start
				ns[i], errs[i] = rw.RunOnce(t.Context())
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs[:]...); err != nil {
			t.Fatal(err)
		}
		if ns[0]+ns[1] != len(vals) || len(movedBy) != len(vals) {
			t.Fatalf("replicas moved %d + %d keys of %d distinct owners, want %d", ns[0], ns[1], len(movedBy), len(vals))
		}
		for owner, c := range movedBy {
			if c != 1 {
				t.Fatalf("key of %s moved %d times", owner, c)
			}
		}
		s := open(t)
		mustCounts(t, s, map[int]int{2: len(vals)})
		if err := kr.RetireFile(path, 1); err != nil {
			t.Fatal(err)
		}
		mustOpenAll(t, vault.NewVault(kr, s, path), vals)
	})
}
