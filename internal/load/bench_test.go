package load

import (
	"context"
	"testing"

	"github.com/podlife/podlife/internal/load/loadtest"
)

// BenchmarkRunHTTP measures the cost per request of the HTTP engine
// against an in-process server, at concurrency 16; see bench/warmup for
// the comparison with hey and curl.
func BenchmarkRunHTTP(b *testing.B) {
	srv := loadtest.Server(b, &loadtest.Counter{})
	b.ReportAllocs()
	b.ResetTimer()
	s := RunHTTP(context.Background(), HTTPConfig{Targets: get(srv.URL + "/")}, Plan{Requests: uint64(b.N), Concurrency: 16})
	if s.Successes != uint64(b.N) {
		b.Fatalf("got %d successes, want %d", s.Successes, b.N)
	}
}
