package main

import (
	"flag"
	"strings"
	"testing"
	"time"
)

// TestVMConfig: the VM settings' defaults, a zero golden settle time (snapshot at once) accepted,
// and every bad value refused with the variable's name.
func TestVMConfig(t *testing.T) {
	load := func(env map[string]string) (*Config, error) {
		return loadConfig(flag.NewFlagSet("serve", flag.ContinueOnError), nil, func(k string) string { return env[k] })
	}
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	v := c.VM
	if v.Driver != "" || v.Net != "user" || v.Accel != "auto" || v.Warm != 1 || !v.Snapshot ||
		v.Settle != 3*time.Minute || v.BootTimeout != 5*time.Minute || v.IdleTimeout != time.Hour || v.Rebuild != 168*time.Hour {
		t.Fatalf("defaults: %+v", v)
	}
	if c, err = load(map[string]string{"POLYDEV_VM_GOLDEN_SETTLE": "0s"}); err != nil || c.VM.Settle != 0 {
		t.Fatalf("settle 0s: %v, %v", c, err)
	}
	for name, val := range map[string]string{
		"POLYDEV_VM_GOLDEN_SETTLE": "-1s", "POLYDEV_VM_DRIVER": "docker", "POLYDEV_VM_NET": "bridge",
		"POLYDEV_VM_ACCEL": "hvf", "POLYDEV_VM_WARM": "65", "POLYDEV_VM_SNAPSHOT": "yes",
		"POLYDEV_VM_BOOT_TIMEOUT": "0s", "POLYDEV_VM_REBUILD": "1m",
	} {
		if _, err := load(map[string]string{name: val}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v, want an error naming the variable", name, val, err)
		}
	}
}

// TestPprofConfig: profiles are served on loopback only, and off by default.
func TestPprofConfig(t *testing.T) {
	load := func(v string) (*Config, error) {
		return loadConfig(flag.NewFlagSet("serve", flag.ContinueOnError), nil, func(k string) string {
			if k == "POLYDEV_PPROF_ADDR" {
				return v
			}
			return ""
		})
	}
	if c, err := load(""); err != nil || c.PprofAddr != "" {
		t.Fatalf("default: %v, %v", c, err)
	}
	for _, ok := range []string{"127.0.0.1:6060", "[::1]:0", "127.0.0.2:7000"} {
		if _, err := load(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"0.0.0.0:6060", ":6060", "localhost:6060", "10.0.0.1:6060", "127.0.0.1"} {
		if _, err := load(bad); err == nil || !strings.Contains(err.Error(), "POLYDEV_PPROF_ADDR") {
			t.Errorf("%s: %v, want a refusal naming the variable", bad, err)
		}
	}
}

// TestTrustedProxiesConfig: addresses and CIDRs of either family, a bare address taken as one host,
// and garbage refused with the variable's name.
func TestTrustedProxiesConfig(t *testing.T) {
	load := func(v string) (*Config, error) {
		return loadConfig(flag.NewFlagSet("serve", flag.ContinueOnError), nil, func(k string) string {
			if k == "POLYDEV_TRUSTED_PROXIES" {
				return v
			}
			return ""
		})
	}
	c, err := load(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8, ::1 ")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "::1/128"}
	if len(c.TrustedProxies) != len(want) {
		t.Fatalf("TrustedProxies = %v, want %v", c.TrustedProxies, want)
	}
	for i, p := range c.TrustedProxies {
		if p.String() != want[i] {
			t.Fatalf("TrustedProxies = %v, want %v", c.TrustedProxies, want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.internal", "10.0.0.1/8/8"} {
		if _, err := load(bad); err == nil || !strings.Contains(err.Error(), "POLYDEV_TRUSTED_PROXIES") {
			t.Errorf("%q: %v, want a refusal naming the variable", bad, err)
		}
	}
}
