package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/polydev/polydev/web"
)

// AdmissionConfig is what bounds a request before and while its body is read (web.Config has the
// meaning of each; zero values are web's defaults).
type AdmissionConfig struct {
	GatewayBodyBytes   int64            // POLYDEV_MAX_GATEWAY_BODY_BYTES: a bare size, for every surface
	GatewayBodyLimits  map[string]int64 // POLYDEV_MAX_GATEWAY_BODY_BYTES: surface=size entries
	GatewayBodyTimeout time.Duration    // POLYDEV_GATEWAY_BODY_TIMEOUT
	BodyTimeout        time.Duration    // POLYDEV_BODY_TIMEOUT: JSON API bodies
	UserRequests       int              // POLYDEV_USER_REQUESTS_IN_FLIGHT
	UserBodyBytes      int64            // POLYDEV_USER_BODY_BYTES_IN_FLIGHT
	BodyBytesInFlight  int64            // POLYDEV_BODY_BYTES_IN_FLIGHT
	MaxConns           int              // POLYDEV_MAX_CONNS
}

// load reads the POLYDEV_* admission settings.
func (a *AdmissionConfig) load(env func(k, def string) string) error {
	if v := env("POLYDEV_MAX_GATEWAY_BODY_BYTES", ""); v != "" {
		for _, item := range strings.Split(v, ",") {
			name, size, named := strings.Cut(strings.TrimSpace(item), "=")
			if !named {
				size = name
			}
			n, err := parseSize(size)
			if err != nil || n < 1024 {
				return fmt.Errorf("POLYDEV_MAX_GATEWAY_BODY_BYTES: %q must be a size of at least 1024 bytes (like 32MiB), or surface=size", item)
			}
			if !named {
				a.GatewayBodyBytes = n
				continue
			}
			if !slices.Contains(web.GatewayLimitNames, name) {
				return fmt.Errorf("POLYDEV_MAX_GATEWAY_BODY_BYTES: surface %q is not one of %s", name, strings.Join(web.GatewayLimitNames, ", "))
			}
			if a.GatewayBodyLimits == nil {
				a.GatewayBodyLimits = map[string]int64{}
			}
			a.GatewayBodyLimits[name] = n
		}
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"POLYDEV_GATEWAY_BODY_TIMEOUT", &a.GatewayBodyTimeout}, {"POLYDEV_BODY_TIMEOUT", &a.BodyTimeout}} {
		if v := env(d.name, ""); v != "" {
			t, err := time.ParseDuration(v)
			if err != nil || t <= 0 {
				return fmt.Errorf("%s: %q is not a positive duration like 30s or 2m", d.name, v)
			}
			*d.dst = t
		}
	}
	for _, s := range []struct {
		name string
		dst  *int64
	}{{"POLYDEV_USER_BODY_BYTES_IN_FLIGHT", &a.UserBodyBytes}, {"POLYDEV_BODY_BYTES_IN_FLIGHT", &a.BodyBytesInFlight}} {
		if v := env(s.name, ""); v != "" {
			n, err := parseSize(v)
			if err != nil || n < 1<<20 {
				return fmt.Errorf("%s: %q must be a size of at least 1MiB (like 64MiB)", s.name, v)
			}
			*s.dst = n
		}
	}
	for _, c := range []struct {
		name string
		dst  *int
		min  int
	}{{"POLYDEV_USER_REQUESTS_IN_FLIGHT", &a.UserRequests, 1}, {"POLYDEV_MAX_CONNS", &a.MaxConns, 16}} {
		if v := env(c.name, ""); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < c.min {
				return fmt.Errorf("%s: %q must be an integer of at least %d", c.name, v, c.min)
			}
			*c.dst = n
		}
	}
	return nil
}

// apply puts the settings into the web layer's Config.
func (a *AdmissionConfig) apply(c *web.Config) {
	c.MaxGatewayBodyBytes, c.GatewayBodyLimits, c.GatewayBodyTimeout = a.GatewayBodyBytes, a.GatewayBodyLimits, a.GatewayBodyTimeout
	c.BodyReadTimeout, c.UserRequests, c.UserBodyBytes = a.BodyTimeout, a.UserRequests, a.UserBodyBytes
	c.BodyBytesInFlight, c.MaxConns = a.BodyBytesInFlight, a.MaxConns
}

// parseSize reads a byte count: digits, optionally followed by KiB, MiB or GiB.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, suffix)), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return n * mult, nil
}
