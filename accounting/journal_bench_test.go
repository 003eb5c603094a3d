package accounting

import "testing"

// BenchmarkJournalAppend: one record appended per iteration, each file emptied after every 64 (as the
// recorder's batches empty it at low rates).
func BenchmarkJournalAppend(b *testing.B) {
	j, _, _, err := OpenJournal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	if err := j.Recovered(); err != nil {
		b.Fatal(err)
	}
	rec := journalRec(1)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		seg, err := j.Append(rec)
		if err != nil {
			b.Fatal(err)
		}
		if n++; n == 64 {
			if err := j.Stored(seg, n); err != nil {
				b.Fatal(err)
			}
			n = 0
		}
	}
}
