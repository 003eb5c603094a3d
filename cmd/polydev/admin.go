package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/auth"
)

func migrateCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, cfg, cfg.logger(stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s schema at version %d\n", db.Engine(), v)
	return nil
}

func userCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("usage: polydev user create --email E --password P [--admin] [--tier T]")
	}
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "email address (required)")
	password := fs.String("password", "", "password, at least 10 characters (required)")
	admin := fs.Bool("admin", false, "make the user an administrator")
	tier := fs.String("tier", "free", "tier: free, plus, pro or enterprise")
	cfg, err := loadConfig(fs, args[1:], getenv)
	if err != nil {
		return err
	}
	role := polydev.RoleUser
	if *admin {
		role = polydev.RoleAdmin
	}
	u, err := auth.NewUser(*email, *password, role, polydev.Tier(*tier), polydev.Now())
	if err != nil {
		return fmt.Errorf("%s", polydev.ErrorMessage(err))
	}
	db, err := openStore(ctx, cfg, cfg.logger(stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CreateUser(ctx, u); err != nil {
		return fmt.Errorf("%s", polydev.ErrorMessage(err))
	}
	fmt.Fprintf(stdout, "created %s user %s (%s, tier %s)\n", u.Role, u.Email, u.ID, u.Tier)
	return nil
}
