package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"github.com/polydev/polydev/agent"
	"github.com/polydev/polydev/agent/selftest"
)

// selftestCommand runs the self-test login (agent/selftest) in the CLI's place.
const selftestCommand = "selftest-login"

// selftestFile is where the self-test login leaves its credential, relative to HOME.
const selftestFile = ".polydev-selftest/credentials.json"

// selftestProvider is the "selftest" login provider for the issuer the host named with
// polydev.selftest= on the kernel command line; it exists only then.
func selftestProvider(issuer string) (agent.Provider, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return agent.Provider{}, fmt.Errorf("polydev.selftest=%q: want https://host[:port]", issuer)
	}
	self, err := os.Executable()
	if err != nil {
		return agent.Provider{}, err
	}
	return agent.Provider{
		Name:           "selftest",
		Command:        []string{self, selftestCommand, "-issuer", u.Scheme + "://" + u.Host},
		CredentialFile: selftestFile,
	}, nil
}

func runSelftest(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(selftestCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	issuer := fs.String("issuer", "", "https://host[:port] of the authorization server")
	client := fs.String("client-id", "polydev-selftest", "OAuth client id")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	home, err := os.UserHomeDir()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	err = selftest.Run(context.Background(), selftest.Config{Issuer: *issuer, ClientID: *client, Out: filepath.Join(home, selftestFile)})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
