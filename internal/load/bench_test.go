package load

import (
	"testing"

	"github.com/podlife/podlife/internal/load/loadtest"
)

// BenchmarkHTTP measures the cost per request of the HTTP engine
// against an in-process server, at concurrency 16; see bench/warmup for
// the comparison with hey and curl.
func BenchmarkHTTP(b *testing.B) {
	srv := loadtest.Server(b, &loadtest.Counter{})
	b.ReportAllocs()
	b.ResetTimer()
	s := run(b, Options{Targets: []string{srv.URL + "/"}}, Plan{Requests: uint64(b.N), Concurrency: 16})
	if s.Successes != uint64(b.N) {
		b.Fatalf("got %d successes, want %d", s.Successes, b.N)
	}
}
