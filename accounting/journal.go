package accounting

import (
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

	"github.com/polydev/polydev"
)

// Journal makes a usage record durable with one write(2), so that a request need not wait for a
// database transaction before its last byte: the record is appended to a file in the data directory
// (the page cache keeps it through a crash of the process, as SQLite's WAL with synchronous=NORMAL
// keeps a commit), the Recorder stores it in the database in a later batch, and once every record of
// a file is stored the file is emptied. At start-up, before the server takes requests, whatever the
// files still hold is stored again (records are keyed by id: one already stored is skipped).
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
}

type journalSegment struct {
	f                *os.File
	size             int64
	appended, stored int
}

// rotateBytes is the size past which appends move to the other file when it is empty.
const rotateBytes = 1 << 20

// journalFrame is the header of one record: payload length and CRC-32C of the payload.
const journalFrame = 8

var journalCRC = crc32.MakeTable(crc32.Castagnoli)

// OpenJournal opens (creating them) the journal files in dir and returns the records they hold
// from a previous run, which the caller must store (InsertUsage skips those already stored) and
// then acknowledge with Recovered. A torn record at the end of a file (the machine, not the process,
// crashed in the middle of a write) ends that file's recovery; skipped counts the bytes left
// behind, for the caller to log.
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
	j := &Journal{dir: dir, lock: lock}
	var recs []*polydev.UsageRecord
	var skipped int64
	for i := range j.seg {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("usage-journal.%d", i)), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			j.Close()
			return nil, nil, 0, err
		}
		j.seg[i].f = f
		if st, err := f.Stat(); err == nil {
			j.seg[i].size = st.Size()
		}
		got, bad, err := readJournal(f)
		if err != nil {
			j.Close()
			return nil, nil, 0, err
		}
		recs, skipped = append(recs, got...), skipped+bad
	}
	return j, recs, skipped, nil
}

// Recovered empties the files once the records OpenJournal returned are stored; appends may start
// then (not before: a record must never follow a torn one).
func (j *Journal) Recovered() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range j.seg {
		if err := j.truncate(i); err != nil {
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

// readJournal decodes every whole record of f; bad is the count of bytes after the last good one.
func readJournal(f *os.File) (recs []*polydev.UsageRecord, bad int64, err error) {
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return nil, 0, err
	}
	for len(data) > 0 {
		if len(data) < journalFrame {
			break
		}
		n := binary.LittleEndian.Uint32(data)
		if n > maxJournalRecord || int(n) > len(data)-journalFrame {
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
	return recs, int64(len(data)), nil
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
	n, err := s.f.Write(b)
	if err != nil {
		// Cut a partial frame off again: recovery stops at the first bad frame, and later
		// records must not sit behind one.
		if n > 0 {
			if terr := s.f.Truncate(s.size); terr != nil {
				s.size += int64(n)
				return 0, fmt.Errorf("usage journal: %w (and cutting the partial record off: %v)", err, terr)
			}
		}
		return 0, fmt.Errorf("usage journal: %w", err)
	}
	s.size += int64(n)
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
	if s.size == 0 {
		return nil
	}
	s.size = 0
	return s.f.Truncate(0)
}

// Close closes the files and releases the directory's lock. Records not yet stored stay in the
// files for the next start.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var errs []error
	for i := range j.seg {
		if f := j.seg[i].f; f != nil {
			errs = append(errs, f.Close())
			j.seg[i].f = nil
		}
	}
	if j.lock != nil {
		errs = append(errs, j.lock.Close())
		j.lock = nil
	}
	return errors.Join(errs...)
}
