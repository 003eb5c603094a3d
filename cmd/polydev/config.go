package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Config is everything the binary can be told. Each field has a POLYDEV_* variable; a flag, where one
// exists, overrides it.
type Config struct {
	Addr            string        // POLYDEV_ADDR
	DataDir         string        // POLYDEV_DATA_DIR
	DatabaseURL     string        // POLYDEV_DATABASE_URL: empty = SQLite in DataDir
	LogLevel        slog.Level    // POLYDEV_LOG_LEVEL: debug, info, warn, error
	LogFormat       string        // POLYDEV_LOG_FORMAT: text or json
	SessionIdle     time.Duration // POLYDEV_SESSION_IDLE
	SessionMax      time.Duration // POLYDEV_SESSION_MAX
	Signup          string        // POLYDEV_SIGNUP: open or closed
	TrustedOrigins  []string      // POLYDEV_TRUSTED_ORIGINS: comma-separated
	MaxBodyBytes    int64         // POLYDEV_MAX_BODY_BYTES
	ShutdownTimeout time.Duration // POLYDEV_SHUTDOWN_TIMEOUT
	MasterKey       string        // POLYDEV_MASTER_KEY: empty = <data>/master.key (never a flag: ps would show it)
	AllowPrivate    string        // POLYDEV_ALLOW_PRIVATE_UPSTREAMS: CIDRs or 1
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
		AllowPrivate: env("POLYDEV_ALLOW_PRIVATE_UPSTREAMS", ""),
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
	if err != nil {
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
	return c, nil
}

func (c *Config) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
