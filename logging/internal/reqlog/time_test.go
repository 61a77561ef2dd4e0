package reqlog

import (
	"testing"
	"time"
)

func TestAppendTime(t *testing.T) {
	t.Parallel()
	for _, in := range []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC),
		time.Date(2026, 1, 2, 12, 4, 5, 5000, time.FixedZone("JST", 9*3600)),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, want := string(appendTime(nil, in)), `"`+in.UTC().Format(TimeLayout)+`"`; got != want {
			t.Errorf("appendTime(%v) = %s, want %s", in, got, want)
		}
	}
}

// FuzzAppendTime checks the hand-written formatter against the time package.
func FuzzAppendTime(f *testing.F) {
	f.Add(int64(0), int64(0))
	f.Add(int64(1767323045), int64(123456789))
	f.Add(int64(-62135596800), int64(1))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec)
		if got, want := string(appendTime(nil, tm)), `"`+tm.UTC().Format(TimeLayout)+`"`; got != want {
			t.Fatalf("appendTime(%d, %d) = %s, want %s", sec, nsec, got, want)
		}
	})
}
