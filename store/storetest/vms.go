package storetest

import (
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

func newVM(t *testing.T, s polydev.Store, userID string, typ polydev.VMType, created time.Time) *polydev.VM {
	t.Helper()
	v := &polydev.VM{ID: polydev.NewID(), UserID: userID, Type: typ, State: polydev.VMCreated, Driver: "qemu",
		VMResources: polydev.VMResources{VCPUs: 2, MemoryMiB: 1024}, CreatedAt: created, UpdatedAt: created, LastActivityAt: created}
	must(t, s.CreateVM(ctx(t), v))
	return v
}

func testVMs(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPro)
	now := time.Now().UTC().Truncate(time.Millisecond)
	old := newVM(t, s, u.ID, polydev.VMCLI, now.Add(-time.Hour))
	v := newVM(t, s, u.ID, polydev.VMBrowser, now)

	got, err := s.VMByID(ctx(t), u.ID, v.ID)
	must(t, err)
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("VMByID = %+v, want %+v", got, v)
	}
	mustCode(t, s.CreateVM(ctx(t), v), polydev.ECONFLICT)
	bad := *v
	bad.ID, bad.Type = polydev.NewID(), "Browser"
	mustCode(t, s.CreateVM(ctx(t), &bad), polydev.EINVALID)

	list, err := s.ListVMs(ctx(t), u.ID)
	must(t, err)
	if len(list) != 2 || list[0].ID != v.ID || list[1].ID != old.ID {
		t.Fatalf("ListVMs order wrong: %+v", list)
	}
	all, err := s.ListAllVMs(ctx(t))
	must(t, err)
	if len(all) != 2 || all[0].ID != old.ID {
		t.Fatalf("ListAllVMs = %+v", all)
	}

	ip := netip.MustParseAddr("192.168.100.7")
	later := now.Add(time.Minute)
	must(t, s.SetVMIP(ctx(t), v.ID, &ip, later))
	must(t, s.TouchVM(ctx(t), v.ID, later))
	got, err = s.VMByID(ctx(t), u.ID, v.ID)
	must(t, err)
	if got.IP == nil || *got.IP != ip || !got.LastActivityAt.Equal(later) || !got.UpdatedAt.Equal(later) {
		t.Fatalf("after SetVMIP+TouchVM = %+v", got)
	}
	must(t, s.SetVMIP(ctx(t), v.ID, nil, later))
	if got, _ = s.VMByID(ctx(t), u.ID, v.ID); got.IP != nil {
		t.Fatalf("SetVMIP(nil) left ip %v", got.IP)
	}

	must(t, s.SetVMState(ctx(t), v.ID, polydev.VMCreated, polydev.VMFailed, later))
	c, err := s.CountVMs(ctx(t))
	must(t, err)
	want := &polydev.VMCounts{Total: 2,
		ByState: map[polydev.VMState]int{"created": 1, "starting": 0, "running": 0, "stopping": 0, "stopped": 0, "failed": 1, "deleted": 0},
		ByType:  map[polydev.VMType]int{"browser": 1, "cli": 1}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("CountVMs = %+v, want %+v", c, want)
	}

	must(t, s.DeleteVM(ctx(t), v.ID))
	mustCode(t, s.DeleteVM(ctx(t), v.ID), polydev.ENOTFOUND)
	_, err = s.VMByID(ctx(t), u.ID, v.ID)
	mustCode(t, err, polydev.ENOTFOUND)
	mustCode(t, s.TouchVM(ctx(t), v.ID, later), polydev.ENOTFOUND)
	mustCode(t, s.SetVMIP(ctx(t), v.ID, &ip, later), polydev.ENOTFOUND)
}

func testVMIsolation(t *testing.T, s polydev.Store) {
	a := newUser(t, s, polydev.TierPro)
	b := newUser(t, s, polydev.TierPro)
	vb := newVM(t, s, b.ID, polydev.VMBrowser, time.Now())
	_, err := s.VMByID(ctx(t), a.ID, vb.ID)
	mustCode(t, err, polydev.ENOTFOUND)
	list, err := s.ListVMs(ctx(t), a.ID)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("user A sees %d VMs of user B", len(list))
	}
	for _, hostile := range []string{"", "x\x00y", "\xff", vb.ID + "' OR '1'='1"} {
		_, err := s.VMByID(ctx(t), b.ID, hostile)
		mustCode(t, err, polydev.ENOTFOUND)
	}
}

func testVMStateCAS(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPro)
	now := time.Now().UTC().Truncate(time.Millisecond)
	v := newVM(t, s, u.ID, polydev.VMBrowser, now)

	steps := []struct {
		from, to polydev.VMState
		code     string
	}{
		{polydev.VMCreated, polydev.VMStarting, ""},
		{polydev.VMCreated, polydev.VMStarting, polydev.ECONFLICT}, // lost the race: no longer created
		{polydev.VMStarting, polydev.VMRunning, ""},
		{polydev.VMRunning, polydev.VMStopping, ""},
		{polydev.VMStopping, polydev.VMStopped, ""},
		{polydev.VMRunning, polydev.VMStopped, polydev.ECONFLICT},
		{polydev.VMStopped, "paused", polydev.EINVALID},
	}
	for i, st := range steps {
		at := now.Add(time.Duration(i+1) * time.Second)
		err := s.SetVMState(ctx(t), v.ID, st.from, st.to, at)
		if st.code == "" {
			must(t, err)
		} else {
			mustCode(t, err, st.code)
		}
	}
	got, err := s.VMByID(ctx(t), u.ID, v.ID)
	must(t, err)
	if got.State != polydev.VMStopped || got.StartedAt == nil || !got.StartedAt.Equal(now.Add(3*time.Second)) ||
		got.StoppedAt == nil || !got.StoppedAt.Equal(now.Add(5*time.Second)) {
		t.Fatalf("after transitions = %+v", got)
	}
	mustCode(t, s.SetVMState(ctx(t), polydev.NewID(), polydev.VMCreated, polydev.VMStarting, now), polydev.ENOTFOUND)

	// Of many concurrent movers from the same state, exactly one wins.
	must(t, s.SetVMState(ctx(t), v.ID, polydev.VMStopped, polydev.VMStarting, now))
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for range 16 {
		wg.Go(func() {
			err := s.SetVMState(ctx(t), v.ID, polydev.VMStarting, polydev.VMRunning, time.Now())
			mu.Lock()
			defer mu.Unlock()
			switch polydev.ErrorCode(err) {
			case "":
				wins++
			case polydev.ECONFLICT:
				conflicts++
			default:
				t.Errorf("SetVMState: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || conflicts != 15 {
		t.Fatalf("concurrent CAS: %d wins, %d conflicts; want 1 and 15", wins, conflicts)
	}
}
