package lifecycle_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/podlife/podlife/lifecycle"
)

// nopWriter is a ResponseWriter that keeps nothing, so that the benchmarks
// measure the handlers and not a recorder.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

func benchHandler(b *testing.B, h http.Handler, target string) {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

var bare = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

func BenchmarkBareHandler(b *testing.B) { benchHandler(b, bare, "/") }

func BenchmarkMiddleware(b *testing.B) {
	l := newLifecycle(b, lifecycle.Config{})
	benchHandler(b, l.Middleware(bare), "/")
}

func BenchmarkMiddlewareParallel(b *testing.B) {
	l := newLifecycle(b, lifecycle.Config{})
	h := l.Middleware(bare)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &nopWriter{h: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(w, req)
		}
	})
}

func BenchmarkBareHandlerParallel(b *testing.B) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &nopWriter{h: http.Header{}}
		for pb.Next() {
			bare.ServeHTTP(w, req)
		}
	})
}

// started returns a Lifecycle whose startup has finished, with a watchdog.
func started(b *testing.B) *lifecycle.Lifecycle {
	l := newLifecycle(b, lifecycle.Config{})
	l.Watchdog("loop", time.Hour)
	ctxRun, r := start(b, l)
	b.Cleanup(func() { ctxRun(); r.wait(b) })
	isClosed(b, "serving", l.Serving())
	return l
}

func BenchmarkLivez(b *testing.B)     { benchHandler(b, started(b).Handler(), "/livez") }
func BenchmarkReadyz(b *testing.B)    { benchHandler(b, started(b).Handler(), "/readyz") }
func BenchmarkStartupz(b *testing.B)  { benchHandler(b, started(b).Handler(), "/startupz") }
func BenchmarkDrainzGet(b *testing.B) { benchHandler(b, started(b).Handler(), "/drainz") }
func BenchmarkReadyzVerbose(b *testing.B) {
	benchHandler(b, started(b).Handler(), "/readyz?verbose")
}
func BenchmarkHeartbeatBeat(b *testing.B) {
	h := newLifecycle(b, lifecycle.Config{}).Watchdog("loop", time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		h.Beat()
	}
}

// BenchmarkHTTPRoundTrip puts the middleware's cost next to a whole request
// over loopback, which is what it adds to in practice.
func BenchmarkHTTPRoundTrip(b *testing.B) {
	l := newLifecycle(b, lifecycle.Config{})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", bare},
		{"middleware", l.Middleware(bare)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httptest.NewServer(bc.h)
			defer srv.Close()
			client := srv.Client()
			defer client.CloseIdleConnections()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Get(srv.URL)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
