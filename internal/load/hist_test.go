package load

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketRoundTrip(t *testing.T) {
	t.Parallel()
	for _, ns := range []uint64{0, 1, 31, 32, 33, 63, 64, 65, 100, 1000, 12345, 1e6, 1e9, 1 << 41, 1<<42 - 1} {
		i := bucketOf(ns)
		lo, hi := bucketRange(i)
		if ns < lo || ns > hi {
			t.Errorf("bucketOf(%d) = %d with range [%d, %d]: got a bucket that does not hold the value", ns, i, lo, hi)
		}
		if hi-lo > lo/subBuckets+1 {
			t.Errorf("bucket %d: got width %d for low end %d, want at most %d", i, hi-lo, lo, lo/subBuckets+1)
		}
	}
	if got := bucketOf(1 << 50); got != numBuckets-1 {
		t.Errorf("bucketOf(2^50): got %d, want the last bucket %d", got, numBuckets-1)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		gen  func(rng *rand.Rand) time.Duration
	}{
		{"uniform 0-10ms", func(rng *rand.Rand) time.Duration { return time.Duration(rng.Int64N(int64(10 * time.Millisecond))) }},
		{"exponential mean 1ms", func(rng *rand.Rand) time.Duration { return time.Duration(rng.ExpFloat64() * float64(time.Millisecond)) }},
		{"bimodal 100µs / 50ms", func(rng *rand.Rand) time.Duration {
			if rng.IntN(100) < 95 {
				return 100*time.Microsecond + time.Duration(rng.Int64N(10000))
			}
			return 50*time.Millisecond + time.Duration(rng.Int64N(1000000))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, 2))
			var h Histogram
			all := make([]time.Duration, 20000)
			for i := range all {
				all[i] = tt.gen(rng)
				h.Record(all[i])
			}
			slices.Sort(all)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
				want := all[int(q*float64(len(all)))-1]
				got := h.Quantile(q)
				if diff := float64(got-want) / float64(want); diff > 1.0/subBuckets || diff < -1.0/subBuckets {
					t.Errorf("q%.3f: got %v, want %v within %.1f%%", q, got, want, 100.0/subBuckets)
				}
			}
			if got, want := h.Max(), all[len(all)-1]; got != want {
				t.Errorf("max: got %v, want %v", got, want)
			}
			if got, want := h.Min(), all[0]; got != want {
				t.Errorf("min: got %v, want %v", got, want)
			}
			if got, want := h.Count(), uint64(len(all)); got != want {
				t.Errorf("count: got %d, want %d", got, want)
			}
		})
	}
}

func TestHistogramEdges(t *testing.T) {
	t.Parallel()
	var h Histogram
	if got := h.Quantile(0.99); got != 0 {
		t.Errorf("empty: got p99 %v, want 0", got)
	}
	if got := h.Mean(); got != 0 {
		t.Errorf("empty: got mean %v, want 0", got)
	}
	h.Record(-time.Second)
	h.Record(3 * time.Millisecond)
	if got := h.Min(); got != 0 {
		t.Errorf("negative sample: got min %v, want 0", got)
	}
	if got := h.Quantile(1); got != 3*time.Millisecond {
		t.Errorf("q1: got %v, want the max 3ms", got)
	}
	var o Histogram
	o.Record(time.Hour * 3) // beyond the last bucket: max stays exact
	h.Merge(&o)
	if got := h.Max(); got != 3*time.Hour {
		t.Errorf("merge: got max %v, want 3h", got)
	}
	if got := h.Count(); got != 3 {
		t.Errorf("merge: got count %d, want 3", got)
	}
	if got := h.Quantile(0.99); got != 3*time.Hour {
		t.Errorf("merge: got p99 %v, want 3h", got)
	}
	h.Reset()
	if got := h.Count(); got != 0 {
		t.Errorf("reset: got count %d, want 0", got)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i%5000) * time.Microsecond)
	}
}
