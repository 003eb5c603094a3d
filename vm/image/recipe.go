package image

import (
	"github.com/polydev/polydev/vm"

	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Recipe is everything that decides an image's content. Two recipes with the same [Recipe.Hash] build
// the same image (up to package versions the mirror serves, see the package doc).
type Recipe struct {
	Suite         string            `json:"suite"`          // Debian suite, e.g. bookworm
	Arch          string            `json:"arch"`           // Debian architecture, e.g. amd64
	Mirror        string            `json:"mirror"`         // debootstrap mirror URL
	Sources       []string          `json:"sources"`        // one-line apt sources for the guest's /etc/apt/sources.list
	Packages      []string          `json:"packages"`       // installed in the chroot after debootstrap
	KernelPackage string            `json:"kernel_package"` // e.g. linux-image-amd64
	Modules       []string          `json:"modules"`        // loaded by the initramfs, in this order (deps first)
	AgentPath     string            `json:"-"`              // host path of the CGO_ENABLED=0 polydev-agent; only its hash counts
	AgentSHA256   string            `json:"agent_sha256"`   // filled by Hash from AgentPath
	BuilderSHA256 string            `json:"builder_sha256"` // filled by Hash: the generated scripts and trim lists
	ExtraFiles    map[string]string `json:"extra_files"`    // guest path -> content
	CLIs          CLIs              `json:"-"`              // npm install of the coding CLIs; only its hash counts
	CLIsSHA256    string            `json:"clis_sha256"`    // filled by Hash from CLIs
	Epoch         int64             `json:"source_date_epoch"`
}

// DefaultPackages are the guest's packages beyond minbase (the kernel comes from KernelPackage).
var DefaultPackages = []string{
	"busybox", "ca-certificates", "chromium", "fonts-dejavu-core", "novnc", "websockify", "x11vnc", "xvfb",
}

// DefaultModules are loaded by the initramfs in this order; dependencies found in modules.dep are
// loaded first anyway. virtio_ring must precede virtio (DESIGN.md section 7). crc32c_generic is ext4's
// soft dependency (modules.softdep "pre: crypto-crc32c", which modules.dep does not list): without it an
// ext4 with metadata_csum, mkfs.ext4's default, does not mount.
var DefaultModules = []string{"virtio_ring", "virtio", "virtio_mmio", "virtio_blk", "virtio_net", "crc32c_generic", "ext4"}

// BuilderVersion is part of every hash: bump it whenever Build's steps change what an image contains
// (the generated scripts are covered by BuilderSHA256 already), so an image made by older code is not
// reused.
const BuilderVersion = 3

// DefaultEpoch is SOURCE_DATE_EPOCH for every build: 2026-01-01T00:00:00Z.
const DefaultEpoch = 1767225600

// DefaultRecipe is the golden browser image for the given mirror sources and agent binary.
func DefaultRecipe(src Sources, agentPath string) Recipe {
	return Recipe{
		Suite: "bookworm", Arch: "amd64", Mirror: src.Mirror, Sources: src.Lines("bookworm"),
		Packages: slices.Clone(DefaultPackages), KernelPackage: "linux-image-amd64",
		Modules: slices.Clone(DefaultModules), AgentPath: agentPath, Epoch: DefaultEpoch,
		CLIs: DefaultCLIs(),
	}
}

// canonical is the recipe's hashed form: sorted package list, agent digest filled, map keys sorted (by
// encoding/json). The module order is kept: it is the load order.
func (r Recipe) canonical() ([]byte, error) {
	if r.AgentPath != "" {
		sum, err := vm.FileSHA256(r.AgentPath)
		if err != nil {
			return nil, fmt.Errorf("agent binary: %w", err)
		}
		r.AgentSHA256 = sum
	}
	if r.AgentSHA256 == "" {
		return nil, fmt.Errorf("recipe has no agent binary")
	}
	r.BuilderSHA256 = builderDigest()
	r.CLIsSHA256 = r.CLIs.sha256()
	r.Packages = slices.Sorted(slices.Values(r.Packages))
	r.Packages = slices.Compact(r.Packages)
	return json.MarshalIndent(struct {
		Version int `json:"builder_version"`
		Recipe
	}{BuilderVersion, r}, "", "  ")
}

// Hash is the hex sha256 of the canonical recipe; it names the image directory.
func (r Recipe) Hash() (string, error) {
	b, err := r.canonical()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func (r Recipe) validate() error {
	switch {
	case r.Suite == "" || r.Arch == "" || r.Mirror == "":
		return fmt.Errorf("recipe needs a suite, an architecture and a mirror")
	case r.KernelPackage == "":
		return fmt.Errorf("recipe needs a kernel package")
	case r.AgentPath == "":
		return fmt.Errorf("recipe needs the polydev-agent binary (build it with CGO_ENABLED=0 go build ./cmd/polydev-agent)")
	}
	return nil
}

// builderDigest covers what Build writes into every image besides the recipe's inputs, so editing a
// script changes the hash without anyone remembering to bump [BuilderVersion].
func builderDigest() string {
	h := sha256.New()
	for _, s := range []string{GuestInit, UDHCPCScript, PowerButtonScript, InitramfsInit("KVER", []string{"MOD"}), dpkgExcludes, strings.Join(unusedModules, ",")} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}
