package accounting

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/polydev/polydev"
)

// Journal makes a usage record durable without a system call, so that a request need not wait for
// a database transaction before its last byte: the record is copied into a file in the data
// directory mapped shared (MAP_SHARED), where the page cache keeps it through a crash of the
// process exactly as it keeps a write(2), and as SQLite's WAL with synchronous=NORMAL keeps a
// commit; the Recorder stores it in the database in a later batch, and once every record of a file
// is stored the file is emptied. At start-up, before the server takes requests, whatever the files
// still hold is stored again (records are keyed by id: one already stored is skipped).
//
// Each record is a frame: payload length, CRC-32C of the payload, payload (never empty). A mapped
// file is given journalMapBytes up front (allocated on disk where the filesystem can, so a store
// never has to find a block) and its records are followed by zeros: the first frame whose length
// is zero ends them. A frame's length word is stored after the rest of it, so a frame cut short by
// a crash reads as that end. Emptying a mapped file zeroes its records (first frame's length word
// first) and keeps the file's size and pages. When a file's records outgrow its mapping, the file
// and the mapping double. Where a file cannot be mapped (the filesystem refuses, or the mapping
// cannot grow or faults), it is written with write(2) instead, holding exactly its records, as
// the journal was written before it was mapped.
//
// Recovery reads frames from a file's start until the first of: a zero length word (the end),
// a length past the file, a checksum that fails, a payload that does not decode. The bytes from
// there to the file's last non-zero byte are skipped and counted (a torn frame; after a crash in
// the middle of emptying a file, the rest of its stored records); zeros never count. Files written
// with write(2), by this version or an earlier one, recover the same way.
//
// Two files take turns: appends go to the current one; when it has grown past rotateBytes and the
// other is empty, appends move over, and the full one is emptied as soon as its last record is
// stored. So the files stay small under any load, and emptying one never races an append to it.
//
// It belongs to one server on its data directory (the SQLite server, or one PostgreSQL replica; each
// replica has its own): the directory is locked while the journal is open.
type Journal struct {
	dir  string
	lock *os.File

	mu      sync.Mutex
	seg     [2]journalSegment
	cur     int
	resumed bool // Recovered was called: the files are empty and appends may start

	// mapBytes is the size a file is mapped at when appends start; 0: write(2) only.
	mapBytes int64
}

// rotateBytes is the size past which appends move to the other file when it is empty.
const rotateBytes = 1 << 20

// journalFrame is the header of one record: payload length and CRC-32C of the payload.
const journalFrame = 8

var journalCRC = crc32.MakeTable(crc32.Castagnoli)

// OpenJournal opens (creating them) the journal files in dir and returns the records they hold
// from a previous run, which the caller must store (InsertUsage skips those already stored) and
// then acknowledge with Recovered. A torn record (the machine, not the process, crashed in the
// middle of a write) ends that file's recovery; skipped counts the non-zero bytes left behind (see
// Journal), for the caller to log.
func OpenJournal(dir string) (*Journal, []*polydev.UsageRecord, int64, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, 0, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "usage-journal.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, 0, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, nil, 0, fmt.Errorf("usage journal in %s is in use by another polydev process (one server per data directory; each PostgreSQL replica needs its own): %w", dir, err)
	}
	j := &Journal{dir: dir, lock: lock, mapBytes: journalMapBytes}
	var recs []*polydev.UsageRecord
	var skipped int64
	for i := range j.seg {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("usage-journal.%d", i)), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			j.Close()
			return nil, nil, 0, err
		}
		j.seg[i].f = f
		got, bad, err := readJournal(f)
		if err != nil {
			j.Close()
			return nil, nil, 0, err
		}
		recs, skipped = append(recs, got...), skipped+bad
	}
	return j, recs, skipped, nil
}

// Recovered empties the files once the records OpenJournal returned are stored, whole (whatever
// they held past their records goes too), and maps them; appends may start then (not before: a
// record must never follow a torn one).
func (j *Journal) Recovered() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range j.seg {
		if j.seg[i].f == nil {
			continue // closed: appends fail
		}
		if err := j.seg[i].start(j.mapBytes); err != nil {
			return err
		}
	}
	j.resumed = true
	return nil
}

// A record's payload is binary, version 1: the version byte, a flags byte (platform key, stream,
// estimated, unpriced), the strings as uvarint length and bytes (id, user, key, provider, model, surface,
// status, error code, session, reservation), then the numbers as varints (HTTP status, input,
// output, cache read, cache write and reasoning tokens, cost, duration, TTFB, overhead, creation
// time in Unix nanoseconds). A later version appends; a reader refuses versions it does not know.
const journalVersion = 1

const (
	flagPlatformKey = 1 << iota
	flagStream
	flagEstimated
	flagUnpriced // added after version 1 shipped: older records simply never have it set
)

func appendRecord(b []byte, r *polydev.UsageRecord) []byte {
	var flags byte
	if r.PlatformKey {
		flags |= flagPlatformKey
	}
	if r.Stream {
		flags |= flagStream
	}
	if r.Estimated {
		flags |= flagEstimated
	}
	if r.Unpriced {
		flags |= flagUnpriced
	}
	b = append(b, journalVersion, flags)
	for _, str := range [...]string{r.ID, r.UserID, r.KeyID, string(r.Provider), r.Model, r.Surface, r.Status, r.ErrorCode, r.SessionID, r.ReservationID} {
		b = binary.AppendUvarint(b, uint64(len(str)))
		b = append(b, str...)
	}
	for _, n := range [...]int64{int64(r.HTTPStatus), r.InputTokens, r.OutputTokens, r.CacheReadTokens, r.CacheWriteTokens,
		r.ReasoningTokens, int64(r.Cost), r.DurationMS, r.TTFBMS, r.OverheadUS, r.CreatedAt.UnixNano()} {
		b = binary.AppendVarint(b, n)
	}
	if r.WebSearches != 0 {
		// Added after version 1 shipped: an optional trailing number, absent in older records.
		b = binary.AppendVarint(b, r.WebSearches)
	}
	return b
}

var errJournalRecord = errors.New("usage journal: malformed record")

func decodeRecord(p []byte) (*polydev.UsageRecord, error) {
	if len(p) < 2 || p[0] != journalVersion {
		return nil, errJournalRecord
	}
	flags := p[1]
	p = p[2:]
	var strs [10]string
	for i := range strs {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return nil, errJournalRecord
		}
		strs[i], p = string(p[k:k+int(n)]), p[k+int(n):]
	}
	var nums [11]int64
	for i := range nums {
		v, k := binary.Varint(p)
		if k <= 0 {
			return nil, errJournalRecord
		}
		nums[i], p = v, p[k:]
	}
	var webSearches int64
	if len(p) > 0 {
		v, k := binary.Varint(p)
		if k <= 0 {
			return nil, errJournalRecord
		}
		webSearches, p = v, p[k:]
	}
	if len(p) != 0 {
		return nil, errJournalRecord
	}
	return &polydev.UsageRecord{
		WebSearches: webSearches,
		ID:          strs[0], UserID: strs[1], KeyID: strs[2], Provider: polydev.Provider(strs[3]), Model: strs[4], Surface: strs[5],
		Status: strs[6], ErrorCode: strs[7], SessionID: strs[8], ReservationID: strs[9],
		PlatformKey: flags&flagPlatformKey != 0, Stream: flags&flagStream != 0, Estimated: flags&flagEstimated != 0,
		Unpriced:   flags&flagUnpriced != 0,
		HTTPStatus: int(nums[0]), InputTokens: nums[1], OutputTokens: nums[2], CacheReadTokens: nums[3], CacheWriteTokens: nums[4],
		ReasoningTokens: nums[5], Cost: polydev.Money(nums[6]), DurationMS: nums[7], TTFBMS: nums[8], OverheadUS: nums[9],
		CreatedAt: time.Unix(0, nums[10]).UTC(),
	}, nil
}

// encodeJournal frames rec: payload length, CRC-32C of the payload, payload.
func encodeJournal(rec *polydev.UsageRecord) []byte {
	b := appendRecord(make([]byte, journalFrame, journalFrame+256), rec)
	payload := b[journalFrame:]
	binary.LittleEndian.PutUint32(b, uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(payload, journalCRC))
	return b
}

// maxJournalRecord bounds one record's payload (a record is a few hundred bytes).
const maxJournalRecord = 1 << 20

// readJournal decodes every whole record of f up to the end of its records (a zero length word) or
// the first bad frame; bad is the count of bytes from there to the last non-zero byte.
func readJournal(f *os.File) (recs []*polydev.UsageRecord, bad int64, err error) {
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return nil, 0, err
	}
	for len(data) >= journalFrame {
		n := binary.LittleEndian.Uint32(data)
		if n == 0 || n > maxJournalRecord || int(n) > len(data)-journalFrame {
			break
		}
		payload := data[journalFrame : journalFrame+int(n)]
		if crc32.Checksum(payload, journalCRC) != binary.LittleEndian.Uint32(data[4:]) {
			break
		}
		rec, err := decodeRecord(payload)
		if err != nil || rec.ID == "" || rec.UserID == "" {
			break
		}
		recs = append(recs, rec)
		data = data[journalFrame+int(n):]
	}
	return recs, int64(len(bytes.TrimRight(data, "\x00"))), nil
}

// Append writes rec to the current file and returns the file's index, for Stored.
func (j *Journal) Append(rec *polydev.UsageRecord) (int, error) {
	b := encodeJournal(rec)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.seg[j.cur].size >= rotateBytes {
		if other := 1 - j.cur; j.seg[other].appended == 0 {
			j.cur = other
		}
	}
	s := &j.seg[j.cur]
	switch {
	case s.f == nil:
		return 0, errors.New("usage journal is closed")
	case !j.resumed:
		return 0, errors.New("usage journal: Append before Recovered")
	}
	if err := s.append(b); err != nil {
		return 0, err
	}
	s.appended++
	return j.cur, nil
}

// Stored acknowledges n records of file seg as stored in the database. A file whose every record is
// stored is emptied.
func (j *Journal) Stored(seg, n int) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := &j.seg[seg]
	s.stored += n
	if s.stored < s.appended {
		return nil
	}
	return j.truncate(seg)
}

// truncate empties file i (under j.mu).
func (j *Journal) truncate(i int) error {
	s := &j.seg[i]
	if s.f == nil {
		return nil
	}
	s.appended, s.stored = 0, 0
	return s.empty()
}

// Close unmaps and closes the files and releases the directory's lock. Records not yet stored stay in the
// files for the next start.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var errs []error
	for i := range j.seg {
		s := &j.seg[i]
		if s.m != nil {
			errs = append(errs, unix.Munmap(s.m))
			s.m = nil
		}
		if s.f != nil {
			errs = append(errs, s.f.Close())
			s.f = nil
		}
	}
	if j.lock != nil {
		errs = append(errs, j.lock.Close())
		j.lock = nil
	}
	return errors.Join(errs...)
}
