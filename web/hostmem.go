package web

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
)

const memInfoPath = "/proc/meminfo"

type memInfo struct{ total, available uint64 } // bytes

// readMemInfo reads MemTotal and MemAvailable (kB in the file) from a meminfo file.
func readMemInfo(path string) (memInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return memInfo{}, err
	}
	return parseMemInfo(b)
}

func parseMemInfo(b []byte) (memInfo, error) {
	var m memInfo
	var haveTotal, haveAvail bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fields := bytes.Fields(sc.Bytes())
		if len(fields) < 2 {
			continue
		}
		var dst *uint64
		switch string(fields[0]) {
		case "MemTotal:":
			dst, haveTotal = &m.total, true
		case "MemAvailable:":
			dst, haveAvail = &m.available, true
		default:
			continue
		}
		kb, err := strconv.ParseUint(string(fields[1]), 10, 64)
		if err != nil || kb > 1<<53 {
			return memInfo{}, fmt.Errorf("meminfo: bad %s value %q", fields[0], fields[1])
		}
		*dst = kb * 1024
	}
	if !haveTotal || !haveAvail {
		return memInfo{}, fmt.Errorf("meminfo: MemTotal or MemAvailable missing")
	}
	return m, nil
}
