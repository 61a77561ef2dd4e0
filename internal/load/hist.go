package load

import (
	"math"
	"math/bits"
	"time"
)

// Histogram is a fixed-size latency histogram with log-linear buckets,
// in the manner of HdrHistogram: each power of two of nanoseconds is cut
// into subBuckets equal buckets, so a quantile is exact to within
// 1/subBuckets (about 3 %) of its value, whatever the number of samples.
// Its memory is constant (a few KiB) whether it holds ten samples or a
// billion. The zero value is empty and ready to use; it is not safe for
// concurrent use.
type Histogram struct {
	counts [numBuckets]uint64
	n      uint64
	min    time.Duration
	max    time.Duration
	sum    time.Duration
}

const (
	subBits    = 5
	subBuckets = 1 << subBits // per power of two
	// maxExp covers durations up to 2^maxExp ns (about 73 minutes);
	// longer ones land in the last bucket (the maximum stays exact).
	maxExp     = 42
	numBuckets = (maxExp - subBits + 2) * subBuckets
)

// bucketOf returns the bucket index of a duration in nanoseconds.
// Values below subBuckets ns get a bucket each; above, the top subBits+1
// bits pick the bucket within the value's power of two.
func bucketOf(ns uint64) int {
	if ns < subBuckets {
		return int(ns)
	}
	exp := bits.Len64(ns) - 1 // ns in [2^exp, 2^(exp+1))
	if exp >= maxExp {
		return numBuckets - 1
	}
	shift := exp - subBits
	sub := int(ns>>uint(shift)) - subBuckets // 0..subBuckets-1
	return (shift+1)*subBuckets + sub
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < subBuckets {
		return uint64(i), uint64(i)
	}
	shift := i/subBuckets - 1
	sub := uint64(i%subBuckets + subBuckets)
	lo = sub << uint(shift)
	return lo, lo + (1 << uint(shift)) - 1
}

// Record adds one sample. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.sum += d
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Max returns the largest sample, exactly; 0 when empty.
func (h *Histogram) Max() time.Duration { return h.max }

// Min returns the smallest sample, exactly; 0 when empty.
func (h *Histogram) Min() time.Duration { return h.min }

// Mean returns the mean of the samples; 0 when empty.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// Quantile returns the value below which a fraction q (0 < q ≤ 1) of the
// samples lie: the midpoint of the bucket holding the ⌈q·n⌉-th smallest
// sample, clamped to the exact minimum and maximum. It returns 0 when
// empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank >= h.n {
		return h.max
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i]
		if seen >= rank {
			lo, hi := bucketRange(i)
			v := time.Duration(lo + (hi-lo)/2)
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}

// Merge adds the samples of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }
