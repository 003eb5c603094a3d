package accounting

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

func journalRec(i int) *polydev.UsageRecord {
	return &polydev.UsageRecord{
		ID: polydev.NewID(), UserID: "u1", KeyID: "k1", PlatformKey: true, Provider: polydev.ProviderOpenAI, Model: "gpt-4o-mini",
		Surface: "openai", Stream: i%2 == 0, Status: polydev.UsageOK, HTTPStatus: 200, InputTokens: int64(i), OutputTokens: 7,
		CacheReadTokens: 1, CacheWriteTokens: 2, ReasoningTokens: 3, WebSearches: int64(i % 2), Estimated: true, Unpriced: i%3 == 0, Cost: polydev.Money(100 + i),
		DurationMS: 5, TTFBMS: 1, OverheadUS: 40, SessionID: "s", ReservationID: "r" + polydev.NewID(),
		CreatedAt: time.Unix(1_800_000_000, int64(i)).UTC(),
	}
}

func openJournalT(t *testing.T, dir string) (*Journal, []*polydev.UsageRecord, int64) {
	t.Helper()
	j, recs, skipped, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return j, recs, skipped
}

// recoverT is what opening dir's journal recovers, as a start-up after a crash sees it.
func recoverT(t *testing.T, dir string) ([]*polydev.UsageRecord, int64) {
	t.Helper()
	j, recs, skipped := openJournalT(t, dir)
	j.Close()
	return recs, skipped
}

// freshJournal is an opened journal of an empty directory, ready for appends.
func freshJournal(t *testing.T, dir string) *Journal {
	t.Helper()
	return freshJournalMapped(t, dir, journalMapBytes)
}

// freshJournalMapped is freshJournal with its files mapped at mapBytes (0: write(2) only).
func freshJournalMapped(t *testing.T, dir string, mapBytes int64) *Journal {
	t.Helper()
	j, recs, _ := openJournalT(t, dir)
	if len(recs) != 0 {
		t.Fatalf("fresh journal recovered %d records", len(recs))
	}
	j.mapBytes = mapBytes
	if err := j.Recovered(); err != nil {
		t.Fatal(err)
	}
	if mapped := j.seg[0].m != nil; mapped != (mapBytes > 0) {
		t.Fatalf("file mapped: %v with mapBytes %d", mapped, mapBytes)
	}
	return j
}

func TestJournalRecoversEveryFieldAfterACrash(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := freshJournal(t, dir)
	var want []*polydev.UsageRecord
	for i := range 5 {
		r := journalRec(i)
		if _, err := j.Append(r); err != nil {
			t.Fatal(err)
		}
		want = append(want, r)
	}
	j.Close() // as a killed process leaves it: nothing acknowledged

	j2, got, skipped := openJournalT(t, dir)
	defer j2.Close()
	if skipped != 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("recovered %d records (skipped %d bytes), want the 5 appended, field for field:\n got %+v\nwant %+v", len(got), skipped, got, want)
	}
	if err := j2.Recovered(); err != nil {
		t.Fatal(err)
	}
	j2.Close()
	again, _ := recoverT(t, dir)
	if len(again) != 0 {
		t.Fatalf("after Recovered the journal still holds %d records", len(again))
	}
}

// TestJournalTornFrameIsSkippedNotFatal: a frame whose tail never reached the file (a machine crash
// mid-write can leave its last page zero) ends recovery, and its bytes are counted as skipped.
func TestJournalTornFrameIsSkippedNotFatal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := freshJournal(t, dir)
	a, b := journalRec(1), journalRec(2)
	appendT(t, j, a, b)
	j.Close()
	path := filepath.Join(dir, "usage-journal.0")
	data := readFileT(t, path)
	used := journalUsed(data)
	clear(data[used-20 : used])
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, skipped := recoverT(t, dir)
	if len(got) != 1 || got[0].ID != a.ID || skipped == 0 || skipped > int64(len(encodeJournal(b))) {
		t.Fatalf("got %d records, skipped %d bytes; want the first record whole and the torn one skipped", len(got), skipped)
	}
}

// TestJournalOldFormatFileRecovers: a file as the write(2) journal left it (exactly its records,
// the last one torn) recovers as it did, and appends then go to the file mapped, after nothing
// of it.
func TestJournalOldFormatFileRecovers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b, torn := journalRec(1), journalRec(2), encodeJournal(journalRec(3))
	old := append(append(encodeJournal(a), encodeJournal(b)...), torn[:len(torn)-20]...)
	if err := os.WriteFile(filepath.Join(dir, "usage-journal.1"), old, 0o600); err != nil {
		t.Fatal(err)
	}
	j, got, skipped := openJournalT(t, dir)
	if len(got) != 2 || got[0].ID != a.ID || got[1].ID != b.ID || skipped != int64(len(torn)-20) {
		t.Fatalf("got %d records, skipped %d bytes; want the 2 whole records and the torn one's %d bytes", len(got), skipped, len(torn)-20)
	}
	recoverAndAppendOne(t, j, dir, journalRec(4))
}

// recoverAndAppendOne acknowledges j's recovery, appends rec, closes j as a killed process leaves it
// and checks that a reopen finds rec and nothing else.
func recoverAndAppendOne(t *testing.T, j *Journal, dir string, rec *polydev.UsageRecord) {
	t.Helper()
	if err := j.Recovered(); err != nil {
		t.Fatal(err)
	}
	if j.seg[0].m == nil || j.seg[1].m == nil {
		t.Fatal("files not mapped after recovery")
	}
	appendT(t, j, rec)
	j.Close()
	again, skipped := recoverT(t, dir)
	if len(again) != 1 || again[0].ID != rec.ID || skipped != 0 {
		t.Fatalf("after recovery and one append: %d records, %d bytes skipped; want only the new record", len(again), skipped)
	}
}

// TestJournalEndsAtAZeroLength: the zeros after a mapped file's records are its end, not skipped
// bytes; anything else after the last record is.
func TestJournalEndsAtAZeroLength(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := freshJournal(t, dir)
	appendT(t, j, journalRecs(0, 3)...)
	j.Close()
	path := filepath.Join(dir, "usage-journal.0")
	data := readFileT(t, path)
	if len(data) != journalMapBytes {
		t.Fatalf("file is %d bytes, want the mapping's %d", len(data), journalMapBytes)
	}
	got, skipped := recoverT(t, dir)
	if len(got) != 3 || skipped != 0 {
		t.Fatalf("got %d records, skipped %d bytes; want 3 and none", len(got), skipped)
	}
	used := journalUsed(data)
	data[used+100] = 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, skipped = recoverT(t, dir)
	if len(got) != 3 || skipped != 101 {
		t.Fatalf("a stray byte 100 zeros after the records: got %d records, skipped %d bytes; want 3 and 101", len(got), skipped)
	}
}

// TestJournalEmptiedThenReopened: after a file is emptied and appended to again, a reopen finds
// only the new records.
func TestJournalEmptiedThenReopened(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := freshJournal(t, dir)
	appendT(t, j, journalRecs(0, 5)...)
	if err := j.Stored(0, 5); err != nil {
		t.Fatal(err)
	}
	data := readFileT(t, filepath.Join(dir, "usage-journal.0"))
	if len(data) != journalMapBytes || journalUsed(data) != 0 {
		t.Fatalf("emptied file: %d bytes, %d of them up to the last non-zero; want its size kept and zeros", len(data), journalUsed(data))
	}
	want := appendT(t, j, journalRecs(5, 2)...)
	j.Close()
	got, skipped := recoverT(t, dir)
	if skipped != 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("recovered %d records (skipped %d bytes), want only the 2 appended after the emptying", len(got), skipped)
	}
}

// TestJournalInterruptedEmptyingResurrectsNothing: a crash right after emptying began (the first
// length word zeroed, the old frames behind it) leaves no record to recover, and appends after the
// restart never land where old frames would follow them.
func TestJournalInterruptedEmptyingResurrectsNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := freshJournal(t, dir)
	appendT(t, j, journalRecs(0, 3)...)
	j.Close()
	path := filepath.Join(dir, "usage-journal.0")
	data := readFileT(t, path)
	clear(data[:4])
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	j2, got, _ := openJournalT(t, dir)
	if len(got) != 0 {
		t.Fatalf("recovered %d records behind a zero length word", len(got))
	}
	// A record of the same size as the first old one: its frame ends where the second old one began.
	recoverAndAppendOne(t, j2, dir, journalRec(0))
}

// TestJournalGrowsPastItsMapping: with nothing stored, appends past the mapping's size grow it, and
// every record recovers.
func TestJournalGrowsPastItsMapping(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := freshJournalMapped(t, dir, 64<<10)
	var n int
	for ; j.seg[0].size < 3*64<<10; n++ {
		if seg, err := j.Append(journalRec(n)); err != nil || seg != 0 {
			t.Fatalf("append %d: file %d, %v", n, seg, err)
		}
	}
	if s := j.seg[0]; s.m == nil || int64(len(s.m)) < s.size {
		t.Fatalf("mapping %d bytes for %d bytes of records", len(s.m), s.size)
	}
	j.Close()
	got, skipped := recoverT(t, dir)
	if len(got) != n || skipped != 0 {
		t.Fatalf("recovered %d of %d records, skipped %d bytes", len(got), n, skipped)
	}
}

// TestJournalFaultFallsBackToWrite: a store into the mapping that the kernel cannot back (here the
// file cut short under it) fails that append instead of the process; later appends go through
// write(2) right after the records, and every record appended recovers.
func TestJournalFaultFallsBackToWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := freshJournalMapped(t, dir, 64<<10)
	defer j.Close()
	page := int64(os.Getpagesize())
	if err := os.Truncate(filepath.Join(dir, "usage-journal.0"), page); err != nil {
		t.Fatal(err)
	}
	var ok []string
	for i := 0; ; i++ {
		r := journalRec(i)
		if _, err := j.Append(r); err != nil {
			break
		}
		ok = append(ok, r.ID)
		if i > 100 {
			t.Fatal("appends past the file's end never faulted")
		}
	}
	if j.seg[0].m != nil {
		t.Fatal("still mapped after a fault")
	}
	for i := range 3 {
		r := journalRec(100 + i)
		if _, err := j.Append(r); err != nil {
			t.Fatalf("append through write(2): %v", err)
		}
		ok = append(ok, r.ID)
	}
	j.Close()
	got, skipped := recoverT(t, dir)
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if !reflect.DeepEqual(ids, ok) || skipped != 0 {
		t.Fatalf("recovered %d records (skipped %d bytes), want the %d appended", len(ids), skipped, len(ok))
	}
}

// TestJournalWithoutMapping: where files are not mapped, the write(2) path keeps the same contract.
func TestJournalWithoutMapping(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := freshJournalMapped(t, dir, 0)
	path := filepath.Join(dir, "usage-journal.0")
	appendT(t, j, journalRecs(0, 3)...)
	if err := j.Stored(0, 3); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 0 {
		t.Fatalf("emptied file: %v, %v; want 0 bytes", st, err)
	}
	want := journalRec(9)
	if _, err := j.Append(want); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if st, err := os.Stat(path); err != nil || st.Size() != int64(len(encodeJournal(want))) {
		t.Fatalf("file: %v, %v; want exactly the one record", st, err)
	}
	got, skipped := recoverT(t, dir)
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) || skipped != 0 {
		t.Fatalf("recovered %d records (skipped %d bytes), want the one appended", len(got), skipped)
	}
}

// appendT appends recs to j and returns them.
func appendT(t *testing.T, j *Journal, recs ...*polydev.UsageRecord) []*polydev.UsageRecord {
	t.Helper()
	for _, r := range recs {
		if _, err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

// journalRecs is n records, journalRec(from) on.
func journalRecs(from, n int) []*polydev.UsageRecord {
	var recs []*polydev.UsageRecord
	for i := range n {
		recs = append(recs, journalRec(from+i))
	}
	return recs
}

func readFileT(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// journalUsed is how far a journal file's content reaches: up to its last non-zero byte.
func journalUsed(b []byte) int { return len(bytes.TrimRight(b, "\x00")) }

func TestJournalCorruptRecordStopsRecovery(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := freshJournal(t, dir)
	if _, err := j.Append(journalRec(1)); err != nil {
		t.Fatal(err)
	}
	j.Close()
	path := filepath.Join(dir, "usage-journal.0")
	b := readFileT(t, path)
	used := journalUsed(b)
	b[used-3] ^= 0xff // the checksum no longer matches
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	got, skipped := recoverT(t, dir)
	if len(got) != 0 || skipped != int64(used) {
		t.Fatalf("got %d records, skipped %d of %d bytes; a record failing its checksum must not be stored", len(got), skipped, used)
	}
}

func TestJournalIsEmptiedOnceStoredAndRotates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := freshJournal(t, dir)
	defer j.Close()
	size := func(i int) int {
		return journalUsed(readFileT(t, filepath.Join(dir, "usage-journal."+string(rune('0'+i)))))
	}
	seg, err := j.Append(journalRec(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Stored(seg, 1); err != nil {
		t.Fatal(err)
	}
	if size(seg) != 0 {
		t.Fatalf("file %d holds %d bytes after its only record was stored", seg, size(seg))
	}
	// Fill the current file past the rotation size with nothing stored: appends move to the
	// other file, and the full one empties once all its records are stored.
	counts := map[int]int{}
	for i := 0; j.seg[0].size < rotateBytes || counts[1] == 0; i++ {
		seg, err := j.Append(journalRec(i))
		if err != nil {
			t.Fatal(err)
		}
		counts[seg]++
		if i > 100_000 {
			t.Fatal("appends never moved to the other file")
		}
	}
	if err := j.Stored(0, counts[0]-1); err != nil {
		t.Fatal(err)
	}
	if size(0) == 0 {
		t.Fatal("file 0 was emptied with a record not yet stored")
	}
	if err := j.Stored(0, 1); err != nil {
		t.Fatal(err)
	}
	if size(0) != 0 || size(1) == 0 {
		t.Fatalf("after file 0's records were stored: sizes %d and %d; want 0 and >0", size(0), size(1))
	}
}

func TestJournalAppendWaitsForRecovery(t *testing.T) {
	t.Parallel()
	j, _, _ := openJournalT(t, t.TempDir())
	defer j.Close()
	if _, err := j.Append(journalRec(1)); err == nil {
		t.Fatal("Append before Recovered succeeded; a record could land behind a torn one")
	}
}

func TestJournalLocksItsDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := freshJournal(t, dir)
	if _, _, _, err := OpenJournal(dir); err == nil || !strings.Contains(err.Error(), "in use by another polydev process") {
		t.Fatalf("second open: %v; want a clear refusal", err)
	}
	j.Close()
	recoverT(t, dir)
}

// TestRecorderWithJournal: RecordSync returns before the database has the record (it is in the
// journal), the record reaches the database in a later batch, and then the journal is empty.
func TestRecorderWithJournal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := freshJournal(t, dir)
	defer j.Close()
	st := &gatedStore{memStore: memStore{recs: map[string]*polydev.UsageRecord{}}, gate: make(chan struct{})}
	var journaled sync.Map
	r := &Recorder{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), FlushEvery: time.Millisecond, Journal: j,
		OnJournaled: func(rec *polydev.UsageRecord) { journaled.Store(rec.ID, true) }}
	r.Start()
	rec := journalRec(1)
	if err := r.RecordSync(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if _, ok := journaled.Load(rec.ID); !ok {
		t.Fatal("OnJournaled was not called before RecordSync returned")
	}
	if st.count() != 0 {
		t.Fatal("the store has the record although its writes are held")
	}
	// What a crash now would leave: the record, in the journal file.
	b, err := os.ReadFile(filepath.Join(dir, "usage-journal.0"))
	if err != nil || !strings.Contains(string(b), rec.ID) {
		t.Fatalf("journal file does not hold the record RecordSync returned for (err %v)", err)
	}
	close(st.gate)
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st.count() != 1 {
		t.Fatalf("store has %d records after Flush, want 1", st.count())
	}
	if n := journalUsed(readFileT(t, filepath.Join(dir, "usage-journal.0"))); n != 0 {
		t.Fatalf("journal still holds %d bytes after its record was stored", n)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// gatedStore holds every write until gate is closed.
type gatedStore struct {
	memStore
	gate chan struct{}
}

func (g *gatedStore) InsertUsage(ctx context.Context, recs []*polydev.UsageRecord) error {
	<-g.gate
	return g.memStore.InsertUsage(ctx, recs)
}

// FuzzJournalRecord: any payload decodes without panic, and what decodes encodes back the same.
func FuzzJournalRecord(f *testing.F) {
	f.Add(appendRecord(nil, journalRec(1)))
	f.Add([]byte{journalVersion, 0})
	f.Fuzz(func(t *testing.T, p []byte) {
		rec, err := decodeRecord(p)
		if err != nil {
			return
		}
		if again := appendRecord(nil, rec); !bytes.Equal(again, p) {
			// Varints have one shortest form each; a longer one decodes to the same value.
			if back, err := decodeRecord(again); err != nil || !reflect.DeepEqual(back, rec) {
				t.Fatalf("round trip: %+v -> %+v, %v", rec, back, err)
			}
		}
	})
}

// TestRecorderJournalFailureFallsBack: when appends fail (a full disk), RecordSync waits for the
// database instead, and the failures are logged once per interval, not once per record.
func TestRecorderJournalFailureFallsBack(t *testing.T) {
	t.Parallel()
	j := freshJournal(t, t.TempDir())
	j.Close() // every append now fails
	var logs bytes.Buffer
	st := &memStore{recs: map[string]*polydev.UsageRecord{}}
	r := &Recorder{Store: st, Log: slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil)), FlushEvery: time.Hour, Journal: j}
	r.Start()
	defer r.Stop(context.Background())
	for i := range 50 {
		if err := r.RecordSync(context.Background(), journalRec(i)); err != nil {
			t.Fatal(err)
		}
		if st.count() != i+1 {
			t.Fatalf("after RecordSync %d the store has %d records: without the journal it must wait for the database", i+1, st.count())
		}
	}
	if n := strings.Count(logs.String(), "usage journal appends failing"); n != 1 {
		t.Fatalf("%d log lines for 50 failed appends, want 1:\n%s", n, logs.String())
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestRecordWithin: a journaled record returns while the database is held (it is durable in the
// journal); without a journal the wait for the database is bounded, and the record stays queued and
// is stored once the database answers.
func TestRecordWithin(t *testing.T) {
	t.Parallel()
	j := freshJournal(t, t.TempDir())
	defer j.Close()
	st := &gatedStore{memStore: memStore{recs: map[string]*polydev.UsageRecord{}}, gate: make(chan struct{})}
	r := &Recorder{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), FlushEvery: time.Hour, Journal: j}
	r.Start()
	if err := r.RecordWithin(journalRec(1), time.Nanosecond); err != nil {
		t.Fatalf("journaled record: %v", err)
	}

	bare := &gatedStore{memStore: memStore{recs: map[string]*polydev.UsageRecord{}}, gate: make(chan struct{})}
	b := &Recorder{Store: bare, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), FlushEvery: time.Hour}
	b.Start()
	if err := b.RecordWithin(journalRec(2), time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("no journal, database held: %v, want the bound's deadline", err)
	}
	close(st.gate)
	close(bare.gate)
	for _, x := range []*Recorder{r, b} {
		if err := x.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if st.count() != 1 || bare.count() != 1 {
		t.Fatalf("stored %d and %d records, want 1 each", st.count(), bare.count())
	}
}
