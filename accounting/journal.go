package accounting

import (
	"encoding/binary"
	"encoding/json"
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
// It is for a single server on its data directory (SQLite): the directory is locked while the
// journal is open.
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
		return nil, nil, 0, fmt.Errorf("usage journal in %s is in use by another polydev process (one server per SQLite data directory): %w", dir, err)
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

// journalRecord is a UsageRecord as the journal stores it: every field, including those the API
// never shows.
type journalRecord struct {
	ID, UserID, KeyID              string
	PlatformKey                    bool
	Provider                       polydev.Provider
	Model, Surface                 string
	Stream                         bool
	Status                         string
	HTTPStatus                     int
	ErrorCode                      string
	In, Out, CacheRead, CacheWrite int64
	Reasoning                      int64
	Estimated                      bool
	Cost                           int64
	DurationMS, TTFBMS, OverheadUS int64
	SessionID, ReservationID       string
	CreatedAtNS                    int64
}

func toJournal(r *polydev.UsageRecord) journalRecord {
	return journalRecord{
		ID: r.ID, UserID: r.UserID, KeyID: r.KeyID, PlatformKey: r.PlatformKey, Provider: r.Provider, Model: r.Model,
		Surface: r.Surface, Stream: r.Stream, Status: r.Status, HTTPStatus: r.HTTPStatus, ErrorCode: r.ErrorCode,
		In: r.InputTokens, Out: r.OutputTokens, CacheRead: r.CacheReadTokens, CacheWrite: r.CacheWriteTokens,
		Reasoning: r.ReasoningTokens, Estimated: r.Estimated, Cost: int64(r.Cost), DurationMS: r.DurationMS,
		TTFBMS: r.TTFBMS, OverheadUS: r.OverheadUS, SessionID: r.SessionID, ReservationID: r.ReservationID,
		CreatedAtNS: r.CreatedAt.UnixNano(),
	}
}

func (r *journalRecord) usage() *polydev.UsageRecord {
	return &polydev.UsageRecord{
		ID: r.ID, UserID: r.UserID, KeyID: r.KeyID, PlatformKey: r.PlatformKey, Provider: r.Provider, Model: r.Model,
		Surface: r.Surface, Stream: r.Stream, Status: r.Status, HTTPStatus: r.HTTPStatus, ErrorCode: r.ErrorCode,
		InputTokens: r.In, OutputTokens: r.Out, CacheReadTokens: r.CacheRead, CacheWriteTokens: r.CacheWrite,
		ReasoningTokens: r.Reasoning, Estimated: r.Estimated, Cost: polydev.Money(r.Cost), DurationMS: r.DurationMS,
		TTFBMS: r.TTFBMS, OverheadUS: r.OverheadUS, SessionID: r.SessionID, ReservationID: r.ReservationID,
		CreatedAt: time.Unix(0, r.CreatedAtNS).UTC(),
	}
}

// encodeJournal frames rec: length, CRC-32C, JSON.
func encodeJournal(rec *polydev.UsageRecord) ([]byte, error) {
	payload, err := json.Marshal(toJournal(rec))
	if err != nil {
		return nil, err
	}
	b := make([]byte, journalFrame, journalFrame+len(payload))
	binary.LittleEndian.PutUint32(b, uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(payload, journalCRC))
	return append(b, payload...), nil
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
		var jr journalRecord
		if json.Unmarshal(payload, &jr) != nil || jr.ID == "" || jr.UserID == "" {
			break
		}
		recs = append(recs, jr.usage())
		data = data[journalFrame+int(n):]
	}
	return recs, int64(len(data)), nil
}

// Append writes rec to the current file and returns the file's index, for Stored.
func (j *Journal) Append(rec *polydev.UsageRecord) (int, error) {
	b, err := encodeJournal(rec)
	if err != nil {
		return 0, err
	}
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
