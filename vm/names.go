package vm

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// KeyLen is the number of hex characters of SHA-256(id) that name a VM's resources. Ten characters
// (40 bits) keep every interface name within Linux's 15-character limit (IFNAMSIZ-1) with a
// five-character prefix. Two live VMs sharing a key is astronomically unlikely (about 5e-7 with a
// thousand VMs), but the controller should still refuse a new id whose key matches a live VM's.
const KeyLen = 10

// Name prefixes. They are distinct from everything else on a host (and from vm/netpool's slot names)
// so that reclaim only ever touches resources Polydev made.
const (
	ProcessPrefix = "pdvm-" // process tag, and the stem of every per-VM file name
	NetnsPrefix   = "pdvn-" // network namespace owned by one VM
	TAPPrefix     = "pdvt-" // TAP device owned by one VM
)

// ResourceNames are the names of every host resource one VM owns, all derived from its id alone.
// File names are base names: the controller puts them in its run directory (sockets, pid, log) and
// data directory (overlay, memory file). They contain only the hash of the id, never the id itself,
// so no id can steer a path anywhere.
type ResourceNames struct {
	ID        string // the VM id the names were derived from
	Key       string // first KeyLen hex characters of SHA-256(ID)
	Process   string // "pdvm-<key>": hypervisor instance id (Firecracker --id, QEMU -name), ≤ 15 chars
	Socket    string // "pdvm-<key>.sock": Firecracker API or QMP socket
	Overlay   string // "pdvm-<key>.overlay": writable disk layer over the golden image
	MemFile   string // "pdvm-<key>.mem": guest memory backing file / snapshot memory
	StateFile string // "pdvm-<key>.vmstate": snapshot device state
	PIDFile   string // "pdvm-<key>.pid": hypervisor pid, written once the process runs
	LogFile   string // "pdvm-<key>.log": hypervisor stdout/stderr
	Egress    string // "pdvm-<key>.egress": the egress proxy's unix socket for the VM (user mode)
	Netns     string // "pdvn-<key>": network namespace, ≤ 15 chars
	TAP       string // "pdvt-<key>": TAP device, ≤ 15 chars
}

// Names derives the resource names of the VM with the given id. The same id always gives the same
// names, on any host, in any process.
func Names(id string) ResourceNames {
	sum := sha256.Sum256([]byte(id))
	key := hex.EncodeToString(sum[:])[:KeyLen]
	stem := ProcessPrefix + key
	return ResourceNames{
		ID:        id,
		Key:       key,
		Process:   stem,
		Socket:    stem + ".sock",
		Overlay:   stem + ".overlay",
		MemFile:   stem + ".mem",
		StateFile: stem + ".vmstate",
		PIDFile:   stem + ".pid",
		LogFile:   stem + ".log",
		Egress:    stem + ".egress",
		Netns:     NetnsPrefix + key,
		TAP:       TAPPrefix + key,
	}
}

// fileSuffixes are the extensions Names puts after the process stem.
var fileSuffixes = []string{"", ".sock", ".overlay", ".mem", ".vmstate", ".pid", ".log", ".egress"}

// KeyOf returns the VM key embedded in a resource name made by Names (a file base name, process tag,
// namespace or TAP name), and false for any name Names cannot have produced.
func KeyOf(name string) (string, bool) {
	for _, prefix := range []string{ProcessPrefix, NetnsPrefix, TAPPrefix} {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || len(rest) < KeyLen || !isLowerHex(rest[:KeyLen]) {
			continue
		}
		key, suffix := rest[:KeyLen], rest[KeyLen:]
		if prefix != ProcessPrefix {
			if suffix == "" {
				return key, true
			}
			continue
		}
		for _, s := range fileSuffixes {
			if suffix == s {
				return key, true
			}
		}
	}
	return "", false
}

// Orphans returns the names in found that Names produced for a VM whose id is not in liveIDs. Names
// that Polydev did not make are never returned, so the result is safe to delete. found is typically a
// directory listing, the output of `ip netns list` or the host's link names.
func Orphans(found []string, liveIDs []string) []string {
	live := make(map[string]bool, len(liveIDs))
	for _, id := range liveIDs {
		live[Names(id).Key] = true
	}
	var orphans []string
	for _, name := range found {
		if key, ok := KeyOf(name); ok && !live[key] {
			orphans = append(orphans, name)
		}
	}
	return orphans
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
