package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/auth"
	"github.com/polydev/polydev/store"
)

const userUsage = `usage: polydev user <subcommand> [flags]

  create --email E [--admin] [--tier free|plus|pro|enterprise]   new account; password from stdin or a prompt
  list [--search S]                                              accounts, in email order
  set --email E [--tier T] [--role user|admin]                   change tier or role
  disable --email E | enable --email E                           a disabled account cannot log in; its sessions end
  reset-password --email E                                       new password from stdin or a prompt; sessions end

Passwords are never taken from the command line (other users of the machine see it in ps): pipe
the password in (printf '%s\n' "$PW" | polydev user create ...) or type it at the prompt.
`

// stdin is where passwords are read from; a variable so that tests can give one.
var stdin io.Reader = os.Stdin

func userCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		io.WriteString(stderr, userUsage)
		return errors.New("a user subcommand is required")
	}
	sub, args := args[0], args[1:]
	if sub == "-h" || sub == "--help" || sub == "help" {
		_, _ = io.WriteString(stderr, userUsage)
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the account's email address")
	// Declared only to answer it with advice: a password in argv is visible to every local user.
	password := fs.String("password", "", "refused: passwords come from stdin or a prompt")
	var admin *bool
	var tier, role, search *string
	switch sub {
	case "create":
		admin = fs.Bool("admin", false, "make the user an administrator")
		tier = fs.String("tier", "free", "tier: free, plus, pro or enterprise")
	case "set":
		tier = fs.String("tier", "", "new tier: free, plus, pro or enterprise")
		role = fs.String("role", "", "new role: user or admin")
	case "list":
		search = fs.String("search", "", "only emails containing this")
	case "disable", "enable", "reset-password":
	default:
		io.WriteString(stderr, userUsage)
		return fmt.Errorf("unknown user subcommand %q", sub)
	}
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	if *password != "" {
		return errors.New("--password is not accepted: the command line is visible to other users (ps); pipe the password in on stdin or type it at the prompt")
	}
	if sub != "list" && *email == "" {
		return fmt.Errorf("--email is required")
	}
	var secret string
	if sub == "create" || sub == "reset-password" {
		if secret, err = readPassword(stdin, stderr); err != nil {
			return err
		}
	}
	db, err := openStore(ctx, cfg, cfg.logger(stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	switch sub {
	case "create":
		r := polydev.RoleUser
		if *admin {
			r = polydev.RoleAdmin
		}
		u, err := auth.NewUser(*email, secret, r, polydev.Tier(*tier), polydev.Now())
		if err != nil {
			return cliError(err)
		}
		if err := db.CreateUser(ctx, u); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "created %s user %s (%s, tier %s)\n", u.Role, u.Email, u.ID, u.Tier)
		return nil
	case "list":
		return listUsers(ctx, db, *search, stdout)
	}
	u, err := userByEmail(ctx, db, *email)
	if err != nil {
		return err
	}
	return changeUser(ctx, db, u, sub, tier, role, secret, stdout)
}

// changeUser applies set, disable, enable or reset-password to u.
func changeUser(ctx context.Context, db *store.DB, u *polydev.User, sub string, tier, role *string, secret string, stdout io.Writer) error {
	now := polydev.Now().UTC()
	endSessions := false
	switch sub {
	case "set":
		if *tier == "" && *role == "" {
			return errors.New("nothing to change: give --tier or --role")
		}
		if *tier != "" {
			if !polydev.Tier(*tier).Valid() {
				return errors.New("--tier must be free, plus, pro or enterprise")
			}
			u.Tier = polydev.Tier(*tier)
		}
		if *role != "" {
			if !polydev.Role(*role).Valid() {
				return errors.New("--role must be user or admin")
			}
			u.Role = polydev.Role(*role)
		}
	case "disable":
		if !u.Disabled() {
			u.DisabledAt = &now
		}
		endSessions = true
	case "enable":
		u.DisabledAt = nil
	case "reset-password":
		if err := polydev.CheckPassword(secret); err != nil {
			return cliError(err)
		}
		hash, err := auth.HashPassword(secret)
		if err != nil {
			return err
		}
		u.PasswordHash = hash
		endSessions = true
	}
	u.UpdatedAt = now
	if err := db.UpdateUser(ctx, u); err != nil {
		return cliError(err)
	}
	if endSessions {
		if err := db.DeleteUserSessions(ctx, u.ID, ""); err != nil {
			return err
		}
	}
	state := "enabled"
	if u.Disabled() {
		state = "disabled"
	}
	fmt.Fprintf(stdout, "%s: %s user %s (%s, tier %s, %s)\n", sub, u.Role, u.Email, u.ID, u.Tier, state)
	return nil
}

func listUsers(ctx context.Context, db *store.DB, search string, stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tID\tROLE\tTIER\tSTATE\tCREATED")
	after := ""
	for {
		page, err := db.ListUsers(ctx, polydev.UserQuery{Search: search, After: after, Limit: store.MaxUserPage})
		if err != nil {
			return err
		}
		for _, u := range page {
			state := "enabled"
			if u.Disabled() {
				state = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Email, u.ID, u.Role, u.Tier, state, u.CreatedAt.Format(time.DateOnly))
		}
		if len(page) < store.MaxUserPage {
			return tw.Flush()
		}
		after = page[len(page)-1].Email
	}
}

func userByEmail(ctx context.Context, db *store.DB, email string) (*polydev.User, error) {
	norm, err := auth.NormalizeEmail(email)
	if err != nil {
		return nil, cliError(err)
	}
	u, err := db.UserByEmail(ctx, norm)
	if polydev.ErrorCode(err) == polydev.ENOTFOUND {
		return nil, fmt.Errorf("no account with email %s", norm)
	}
	return u, err
}

// cliError shows a domain error's client message (its cause is for logs, not for the terminal).
func cliError(err error) error { return errors.New(polydev.ErrorMessage(err)) }

// readPassword reads a password: from a terminal, typed twice without echo; otherwise the first
// line of r.
func readPassword(r io.Reader, prompt io.Writer) (string, error) {
	if f, ok := r.(*os.File); ok {
		if t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			return promptPassword(f, t, prompt)
		}
	}
	line, err := bufio.NewReader(io.LimitReader(r, polydev.MaxPasswordLen+2)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin: pipe it in (printf '%s\\n' \"$PW\" | polydev user ...) or run in a terminal to be prompted")
	}
	return line, nil
}

// promptPassword turns echo off on the terminal f while the password is typed, twice.
func promptPassword(f *os.File, saved *unix.Termios, prompt io.Writer) (string, error) {
	quiet := *saved
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ECHONL
	if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &quiet); err != nil {
		return "", err
	}
	defer func() { _ = unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, saved) }()
	in := bufio.NewReader(f)
	read := func(label string) (string, error) {
		fmt.Fprint(prompt, label)
		s, err := in.ReadString('\n')
		return strings.TrimRight(s, "\r\n"), err
	}
	first, err := read("Password: ")
	if err != nil {
		return "", err
	}
	second, err := read("Password again: ")
	if err != nil {
		return "", err
	}
	if first != second {
		return "", errors.New("the two passwords differ")
	}
	return first, nil
}
