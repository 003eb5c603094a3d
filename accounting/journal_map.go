package accounting

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// journalMapBytes is the size each journal file is given and mapped at when appends start: four
// times rotateBytes, so that a file grows only when appends stay on it long past the rotation size
// (the other file still holds records the database has not taken).
const journalMapBytes = 4 * rotateBytes

// journalSegment is one of the journal's two files. Mapped (m not nil), the file is m's length,
// its records fill m[:size] and every byte after them is zero; an append is a copy into m. Not
// mapped, the file holds exactly its records and an append is a write(2) at its end, as before
// the mapping.
type journalSegment struct {
	f                *os.File
	m                []byte
	size             int64
	appended, stored int
}

// mapFile gives f n bytes (allocated on disk where the filesystem can, so that a store into the
// mapping never has to find a block) and maps them shared: a store is in the page cache, and in
// the file, as soon as it is made. f must hold nothing past its first n bytes that recovery could
// read as records.
func mapFile(f *os.File, n int64) ([]byte, error) {
	if err := preallocate(f, n); err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if st.Size() < n {
		if err := f.Truncate(n); err != nil {
			return nil, err
		}
	}
	return unix.Mmap(int(f.Fd()), 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

// start readies an empty segment for appends: mapped at n bytes when n > 0 and the filesystem
// lets it be, else the write(2) path (the file then stays empty until the first append).
func (s *journalSegment) start(n int64) error {
	if s.m != nil {
		if err := unix.Munmap(s.m); err != nil {
			return err
		}
		s.m = nil
	}
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	s.size, s.appended, s.stored = 0, 0, 0
	if n <= 0 {
		return nil
	}
	m, err := mapFile(s.f, n)
	if err != nil {
		// Not every filesystem maps files (or has room for n bytes): write(2) works everywhere.
		return s.f.Truncate(0)
	}
	s.m = m
	return nil
}

// append adds frame b to the segment's records: through the mapping, grown if b does not fit
// (a mapping that cannot grow leaves the segment on write(2) for the rest of the run), or with
// write(2). A failed append leaves nothing of b where recovery could read it.
func (s *journalSegment) append(b []byte) error {
	if s.m != nil && int64(len(b)) > int64(len(s.m))-s.size {
		if err := s.grow(int64(len(b))); err != nil {
			if err := s.unmap(); err != nil {
				return fmt.Errorf("usage journal: the mapped file could not grow and going over to write(2) failed: %w", err)
			}
		}
	}
	if s.m != nil {
		return s.put(b)
	}
	return s.write(b)
}

// put copies frame b to the end of the mapped records. The length word goes last, so that until
// the copy is whole the frame's first word is zero, which recovery reads as the end of the
// records. If a store faults (a filesystem that cannot back the page after all: a full disk under
// copy-on-write, the file cut short by someone else), the record is refused and the segment goes
// over to write(2) for the rest of the run, its records kept.
func (s *journalSegment) put(b []byte) error {
	at := s.m[s.size:]
	if err := noFault(func() { copy(at[4:], b[4:]); copy(at[:4], b[:4]) }); err != nil {
		return errors.Join(err, s.unmap())
	}
	s.size += int64(len(b))
	return nil
}

// write appends frame b with write(2) (the file holds exactly its records; it is opened O_APPEND).
func (s *journalSegment) write(b []byte) error {
	n, err := s.f.Write(b)
	if err != nil {
		// Cut a partial frame off again: recovery stops at the first bad frame, and later
		// records must not sit behind one.
		if n > 0 {
			if terr := s.f.Truncate(s.size); terr != nil {
				s.size += int64(n)
				return fmt.Errorf("usage journal: %w (and cutting the partial record off: %v)", err, terr)
			}
		}
		return fmt.Errorf("usage journal: %w", err)
	}
	s.size += int64(n)
	return nil
}

// grow maps the segment at least need more bytes, doubling it (appends stayed on this file past
// journalMapBytes: the other one still holds records the database has not taken). The new
// mapping is made before the old one goes, so a failure leaves the segment as it was.
func (s *journalSegment) grow(need int64) error {
	n := int64(len(s.m))
	for n-s.size < need {
		n *= 2
	}
	m, err := mapFile(s.f, n)
	if err != nil {
		return err
	}
	if err := unix.Munmap(s.m); err != nil {
		unix.Munmap(m)
		return err
	}
	s.m = m
	return nil
}

// empty drops the segment's records (every one of them is stored). Mapped, it zeroes them and
// keeps the pages (a later append to them costs no fault and no block allocation). The first
// frame's length word is zeroed first: from then on recovery finds no record in the file, so a
// crash in the middle of the zeroing leaves old bytes behind that word, never a frame recovery
// would read (the next start empties the file whole before appends go to it); a crash before it
// leaves every record, each stored again as a duplicate the database skips by id.
func (s *journalSegment) empty() error {
	if s.size == 0 {
		return nil
	}
	if s.m == nil {
		s.size = 0
		return s.f.Truncate(0)
	}
	used := s.m[:s.size]
	err := noFault(func() { clear(used[:4]); clear(used[4:]) })
	if err != nil {
		s.size = 0 // what the zeroing left is cut off whole
		return errors.Join(err, s.unmap())
	}
	s.size = 0
	return nil
}

// unmap moves a mapped segment to write(2), keeping its records: the file is cut back to them,
// so that appends continue right after them.
func (s *journalSegment) unmap() error {
	err := unix.Munmap(s.m)
	s.m = nil
	return errors.Join(err, s.f.Truncate(s.size))
}

// noFault runs f, which stores into a mapping, and returns the fault of a store the kernel could
// not back (SIGBUS: no block for the page), which would otherwise end the process, as an error.
func noFault(f func()) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if fault, ok := r.(interface{ Addr() uintptr }); ok {
			err = fmt.Errorf("usage journal: storing into the mapped file faulted: %v", fault)
			return
		}
		panic(r)
	}()
	f()
	return nil
}
