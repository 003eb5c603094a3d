package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/polydev/polydev/billing"
	"github.com/polydev/polydev/egress"
	"github.com/polydev/polydev/gateway/router"
	"github.com/polydev/polydev/mail"
)

// Config is everything the binary can be told. Each field has a POLYDEV_* variable; a flag, where one
// exists, overrides it.
type Config struct {
	Addr            string         // POLYDEV_ADDR
	DataDir         string         // POLYDEV_DATA_DIR
	DatabaseURL     string         // POLYDEV_DATABASE_URL: empty = SQLite in DataDir
	LogLevel        slog.Level     // POLYDEV_LOG_LEVEL: debug, info, warn, error
	LogFormat       string         // POLYDEV_LOG_FORMAT: text or json
	SessionIdle     time.Duration  // POLYDEV_SESSION_IDLE
	SessionMax      time.Duration  // POLYDEV_SESSION_MAX
	Signup          string         // POLYDEV_SIGNUP: open or closed
	TrustedOrigins  []string       // POLYDEV_TRUSTED_ORIGINS: comma-separated
	TrustedProxies  []netip.Prefix // POLYDEV_TRUSTED_PROXIES: CIDRs whose X-Forwarded-For names the client
	NoVNCDir        string         // POLYDEV_NOVNC_DIR: the noVNC client served at /novnc/ (default /usr/share/novnc)
	MaxBodyBytes    int64          // POLYDEV_MAX_BODY_BYTES
	ShutdownTimeout time.Duration  // POLYDEV_SHUTDOWN_TIMEOUT
	MasterKey       string         // POLYDEV_MASTER_KEY: empty = <data>/master.key (never a flag: ps would show it)
	AllowPrivate    string         // POLYDEV_ALLOW_PRIVATE_UPSTREAMS: CIDRs or 1
	PrivateFor      string         // POLYDEV_PRIVATE_UPSTREAMS_FOR: tiers and emails whose own keys may use AllowPrivate
	PprofAddr       string         // POLYDEV_PPROF_ADDR: loopback address for net/http/pprof; empty = off
	// Mail is the SMTP server of POLYDEV_SMTP_URL and POLYDEV_SMTP_FROM (nil: no mail); PublicURL
	// (POLYDEV_PUBLIC_URL) starts the links in mails.
	Mail      *mail.SMTP
	PublicURL string
	// Upstream wait bounds (router.Timeouts): POLYDEV_UPSTREAM_FIRST_BYTE_TIMEOUT, POLYDEV_UPSTREAM_IDLE_TIMEOUT.
	UpstreamFirstByte, UpstreamIdle time.Duration
	Admission                       AdmissionConfig

	VM      VMConfig
	Billing billing.Config // POLYDEV_STRIPE_*, POLYDEV_BILLING_GRACE (cmd/polydev/billing.go); returns to PublicURL
}

// VMConfig is the VM controller's part of Config.
type VMConfig struct {
	Driver      string        // POLYDEV_VM_DRIVER: qemu, firecracker or off; empty = qemu when it and an image exist
	Net         string        // POLYDEV_VM_NET: user (default) or tap
	Accel       string        // POLYDEV_VM_ACCEL: auto (default: KVM when a probe boot succeeds), kvm or tcg
	PoolCIDR    string        // POLYDEV_VM_POOL_CIDR: tap-mode subnet, default 192.168.100.0/24
	Image       string        // POLYDEV_VM_IMAGE: golden image directory; empty = newest under <data>/images
	Warm        int           // POLYDEV_VM_WARM: restored VMs kept ready, default 1
	IdleTimeout time.Duration // POLYDEV_VM_IDLE_TIMEOUT: running VMs idle this long are stopped, default 1h
	BootTimeout time.Duration // POLYDEV_VM_BOOT_TIMEOUT: bound on a boot until the agent is healthy, default 5m
	Settle      time.Duration // POLYDEV_VM_GOLDEN_SETTLE: how long the golden VM may settle before its snapshot, default 3m
	Rebuild     time.Duration // POLYDEV_VM_REBUILD: golden image rebuild period, default 168h; 0 = off
	Snapshot    bool          // POLYDEV_VM_SNAPSHOT: on (default) restores VMs from a golden snapshot; off cold-boots all

	// EgressUpstream is POLYDEV_EGRESS_PROXY: the operator's proxy the VMs' egress proxy chains
	// through (nil: direct). EgressAllowPrivate is POLYDEV_EGRESS_ALLOW_PRIVATE: non-public
	// destinations VMs may reach (netguard's allow-list syntax; default none).
	EgressUpstream     *egress.Upstream
	EgressAllowPrivate string
}

// loadConfig reads the environment, then the flags of fs (which the caller may extend first).
func loadConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (*Config, error) {
	env := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := &Config{
		Addr: env("POLYDEV_ADDR", "127.0.0.1:8080"), DataDir: env("POLYDEV_DATA_DIR", "./data"),
		DatabaseURL: env("POLYDEV_DATABASE_URL", ""), LogFormat: env("POLYDEV_LOG_FORMAT", "text"),
		Signup: env("POLYDEV_SIGNUP", "open"), MasterKey: env("POLYDEV_MASTER_KEY", ""),
		AllowPrivate: env("POLYDEV_ALLOW_PRIVATE_UPSTREAMS", ""), PrivateFor: env("POLYDEV_PRIVATE_UPSTREAMS_FOR", ""),
		PprofAddr: env("POLYDEV_PPROF_ADDR", ""),
	}
	var err error
	parse := func(name string, dst *time.Duration, def time.Duration) {
		if err != nil {
			return
		}
		*dst = def
		if v := env(name, ""); v != "" {
			if *dst, err = time.ParseDuration(v); err != nil || *dst <= 0 {
				err = fmt.Errorf("%s: %q is not a positive duration like 30m or 72h", name, v)
			}
		}
	}
	parse("POLYDEV_SESSION_IDLE", &c.SessionIdle, 72*time.Hour)
	parse("POLYDEV_SESSION_MAX", &c.SessionMax, 30*24*time.Hour)
	parse("POLYDEV_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout, 30*time.Second)
	parse("POLYDEV_UPSTREAM_FIRST_BYTE_TIMEOUT", &c.UpstreamFirstByte, router.DefaultFirstByteTimeout)
	parse("POLYDEV_UPSTREAM_IDLE_TIMEOUT", &c.UpstreamIdle, router.DefaultIdleTimeout)
	parse("POLYDEV_VM_IDLE_TIMEOUT", &c.VM.IdleTimeout, time.Hour)
	parse("POLYDEV_VM_BOOT_TIMEOUT", &c.VM.BootTimeout, 5*time.Minute)
	if err != nil {
		return nil, err
	}
	// 0 is a meaningful settle time: snapshot the golden VM as soon as it is healthy.
	c.VM.Settle = 3 * time.Minute
	if v := env("POLYDEV_VM_GOLDEN_SETTLE", ""); v != "" {
		if c.VM.Settle, err = time.ParseDuration(v); err != nil || c.VM.Settle < 0 {
			return nil, fmt.Errorf("POLYDEV_VM_GOLDEN_SETTLE: %q is not a duration like 3m, or 0 for none", v)
		}
	}
	c.NoVNCDir = env("POLYDEV_NOVNC_DIR", "")
	if err := c.VM.load(env); err != nil {
		return nil, err
	}
	if err := c.Admission.load(env); err != nil {
		return nil, err
	}
	if err := c.LogLevel.UnmarshalText([]byte(env("POLYDEV_LOG_LEVEL", "info"))); err != nil {
		return nil, fmt.Errorf("POLYDEV_LOG_LEVEL: %w", err)
	}
	if v := env("POLYDEV_MAX_BODY_BYTES", ""); v != "" {
		if c.MaxBodyBytes, err = strconv.ParseInt(v, 10, 64); err != nil || c.MaxBodyBytes < 1024 {
			return nil, fmt.Errorf("POLYDEV_MAX_BODY_BYTES: %q must be an integer >= 1024", v)
		}
	}
	if v := env("POLYDEV_TRUSTED_ORIGINS", ""); v != "" {
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.TrustedOrigins = append(c.TrustedOrigins, o)
			}
		}
	}

	if v := env("POLYDEV_TRUSTED_PROXIES", ""); v != "" {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			if !strings.Contains(p, "/") {
				p += map[bool]string{true: "/32", false: "/128"}[!strings.Contains(p, ":")]
			}
			pfx, err := netip.ParsePrefix(p)
			if err != nil {
				return nil, fmt.Errorf("POLYDEV_TRUSTED_PROXIES: %q is not an address or CIDR", p)
			}
			c.TrustedProxies = append(c.TrustedProxies, pfx.Masked())
		}
	}

	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (POLYDEV_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "data directory (POLYDEV_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "postgres://... or empty for SQLite in the data dir (POLYDEV_DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return nil, fmt.Errorf("POLYDEV_LOG_FORMAT: %q must be text or json", c.LogFormat)
	}
	switch c.Signup {
	case "open", "closed":
	default:
		return nil, fmt.Errorf("POLYDEV_SIGNUP: %q must be open or closed", c.Signup)
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return nil, fmt.Errorf("POLYDEV_DATABASE_URL must start with postgres:// (leave it empty for SQLite)")
	}
	if err := c.loadMail(env); err != nil {
		return nil, err
	}
	if c.Billing, err = loadBilling(env, cmp.Or(c.PublicURL, "http://"+c.Addr)); err != nil {
		return nil, err
	}
	if c.PprofAddr != "" {
		host, _, err := net.SplitHostPort(c.PprofAddr)
		ip := net.ParseIP(host)
		if err != nil || ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("POLYDEV_PPROF_ADDR: %q must be a loopback host:port such as 127.0.0.1:6060 (profiles are not for the network)", c.PprofAddr)
		}
	}
	return c, nil
}

// loadMail reads the optional SMTP settings. The URL holds a password: no error repeats it.
func (c *Config) loadMail(env func(k, def string) string) error {
	raw, from := env("POLYDEV_SMTP_URL", ""), env("POLYDEV_SMTP_FROM", "")
	c.PublicURL = env("POLYDEV_PUBLIC_URL", "")
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("POLYDEV_PUBLIC_URL: %q must be the address users open, like https://polydev.example.com", c.PublicURL)
		}
	}
	if raw == "" {
		if from != "" {
			return errors.New("POLYDEV_SMTP_FROM is set but POLYDEV_SMTP_URL is not")
		}
		return nil
	}
	if from == "" {
		return errors.New("POLYDEV_SMTP_URL is set: POLYDEV_SMTP_FROM must say who the mail is from, e.g. Polydev <noreply@example.com>")
	}
	var err error
	c.Mail, err = mail.Parse(raw, from)
	return err
}

func (c *Config) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// load reads the VM settings other than the durations parsed with the others.
func (v *VMConfig) load(env func(k, def string) string) error {
	v.Driver, v.Net = env("POLYDEV_VM_DRIVER", ""), env("POLYDEV_VM_NET", "user")
	v.PoolCIDR, v.Image = env("POLYDEV_VM_POOL_CIDR", "192.168.100.0/24"), env("POLYDEV_VM_IMAGE", "")
	switch v.Driver {
	case "", "qemu", "firecracker", "off":
	default:
		return fmt.Errorf("POLYDEV_VM_DRIVER: %q must be qemu, firecracker or off", v.Driver)
	}
	switch v.Net {
	case "user", "tap":
	default:
		return fmt.Errorf("POLYDEV_VM_NET: %q must be user or tap", v.Net)
	}
	switch v.Accel = env("POLYDEV_VM_ACCEL", "auto"); v.Accel {
	case "auto", "kvm", "tcg":
	default:
		return fmt.Errorf("POLYDEV_VM_ACCEL: %q must be auto, kvm or tcg", v.Accel)
	}
	switch sn := env("POLYDEV_VM_SNAPSHOT", "on"); sn {
	case "on", "off":
		v.Snapshot = sn == "on"
	default:
		return fmt.Errorf("POLYDEV_VM_SNAPSHOT: %q must be on or off", sn)
	}
	w := env("POLYDEV_VM_WARM", "1")
	n, err := strconv.Atoi(w)
	if err != nil || n < 0 || n > 64 {
		return fmt.Errorf("POLYDEV_VM_WARM: %q must be an integer from 0 to 64", w)
	}
	v.Warm = n
	if v.EgressUpstream, err = egress.ParseUpstream(env(egress.EnvUpstream, "")); err != nil {
		return err
	}
	v.EgressAllowPrivate = env("POLYDEV_EGRESS_ALLOW_PRIVATE", "")
	r := env("POLYDEV_VM_REBUILD", "168h")
	if r == "0" || r == "off" {
		v.Rebuild = 0
	} else if v.Rebuild, err = time.ParseDuration(r); err != nil || v.Rebuild < time.Hour {
		return fmt.Errorf("POLYDEV_VM_REBUILD: %q must be a duration of at least 1h like 168h, or 0 for off", r)
	}
	return nil
}
