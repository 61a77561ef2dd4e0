package load_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/podlife/podlife/internal/load"
)

// New checks the options and prepares the load before any traffic; Run
// sends it as the plan says, here exactly 100 requests, 4 at a time.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	}))
	defer srv.Close()

	l, err := load.New(load.Options{Targets: []string{srv.URL + "/a", srv.URL + "/b"}})
	if err != nil {
		panic(err) // a *check.ConfigError: a bad target or option
	}
	s, err := l.Run(context.Background(), load.Plan{Requests: 100, Concurrency: 4})
	if err != nil {
		panic(err) // the load could not start (gRPC: a method lookup failed)
	}
	fmt.Println(s.Requests, s.Codes, s.Stop)
	// Output:
	// 100 map[200:100] requests
}

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
