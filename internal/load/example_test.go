package load_test

import (
	"fmt"
	"time"

	"github.com/podlife/podlife/internal/load"
)

// A Histogram summarises any number of latencies in constant memory,
// each quantile within about 3 % of its exact value.
func ExampleHistogram() {
	var h load.Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	fmt.Println(h.Count(), h.Max())
	fmt.Println("p50", h.Quantile(0.5).Round(time.Millisecond), "(exact: 500ms)")
	fmt.Println("p99", h.Quantile(0.99).Round(time.Millisecond), "(exact: 990ms)")
	// Output:
	// 1000 1s
	// p50 499ms (exact: 500ms)
	// p99 998ms (exact: 990ms)
}
