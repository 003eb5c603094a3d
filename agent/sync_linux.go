package agent

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// setClock steps CLOCK_REALTIME to t (clock_settime; needs CAP_SYS_TIME).
func setClock(t time.Time) error {
	ts := syscall.NsecToTimespec(t.UnixNano())
	const clockRealtime = 0
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_SETTIME, clockRealtime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return fmt.Errorf("clock_settime: %w", errno)
	}
	return nil
}

// rndAddEntropy is RNDADDENTROPY, _IOW('R', 0x03, int[2]), from linux/random.h.
const rndAddEntropy = 0x40085203

// randPoolInfo is struct rand_pool_info with room for a SeedLen-byte buffer.
type randPoolInfo struct {
	entropyCount int32 // bits credited
	bufSize      int32 // bytes in buf
	buf          [SeedLen]byte
}

// addEntropy mixes seed into the kernel's pool with RNDADDENTROPY, crediting it (CAP_SYS_ADMIN), or
// writes it to /dev/urandom, which mixes it in without credit, when the ioctl is refused.
func addEntropy(seed []byte) (string, error) {
	if len(seed) != SeedLen {
		return "", fmt.Errorf("seed is %d bytes, want %d", len(seed), SeedLen)
	}
	f, err := os.OpenFile("/dev/urandom", os.O_WRONLY, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	info := randPoolInfo{entropyCount: SeedLen * 8, bufSize: SeedLen}
	copy(info.buf[:], seed)
	defer clear(info.buf[:])
	raw, err := f.SyscallConn()
	if err != nil {
		return "", err
	}
	var errno syscall.Errno
	if err := raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, rndAddEntropy, uintptr(unsafe.Pointer(&info)))
	}); err != nil {
		return "", err
	}
	if errno == 0 {
		return EntropyCredited, nil
	}
	if _, err := f.Write(seed); err != nil {
		return "", errors.Join(fmt.Errorf("RNDADDENTROPY: %w", errno), err)
	}
	return EntropyMixed, nil
}
