package logging_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/podlife/podlife/logging"
	"github.com/podlife/podlife/logging/internal/reqlog"
)

// headerRecorder is a real HTTP server that records the propagation
// headers of each request it gets.
type headerRecorder struct {
	mu  sync.Mutex
	got []http.Header
}

func (h *headerRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, http.Header{
		"X-Request-Id": r.Header.Values("X-Request-Id"),
		"Traceparent":  r.Header.Values("Traceparent"),
		"Tracestate":   r.Header.Values("Tracestate"),
	})
}

// TestTransport serves requests with Middleware whose handler calls a
// second real server through Transport, and checks what arrives there.
func TestTransport(t *testing.T) {
	t.Parallel()
	const trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	var rec headerRecorder
	b := httptest.NewServer(&rec)
	t.Cleanup(b.Close)
	client := &http.Client{Transport: logging.Transport{}}
	t.Cleanup(client.CloseIdleConnections)

	l := logging.New(logging.Config{Output: io.Discard})
	var callerHeaders []http.Header
	a := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, b.URL, nil)
		if v := r.URL.Query().Get("own-id"); v != "" {
			req.Header.Set("X-Request-ID", v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		callerHeaders = append(callerHeaders, req.Header.Clone())
	}))
	tests := []struct {
		name                 string
		target               string
		reqID, tp, ts        string
		wantID               string
		wantTrace, wantState string
	}{
		{"all", "/", "r1", "00-" + trace + "-" + span + "-01", "v=1", "r1", trace, "v=1"},
		{"no trace", "/", "r2", "", "v=1", "r2", "", ""},
		{"invalid trace", "/", "r3", "00-" + trace + "-" + span + "-zz", "v=1", "r3", "", ""},
		{"hostile tracestate", "/", "r4", "00-" + trace + "-" + span + "-00", "v=1\x01", "r4", trace, ""},
		{"caller's own id", "/?own-id=mine", "r5", "00-" + trace + "-" + span + "-01", "", "mine", trace, ""},
	}
	for i, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, tt.target, nil)
		req.Header.Set("X-Request-ID", tt.reqID)
		if tt.tp != "" {
			req.Header.Set("Traceparent", tt.tp)
		}
		if tt.ts != "" {
			req.Header["Tracestate"] = []string{tt.ts}
		}
		a.ServeHTTP(httptest.NewRecorder(), req)
		rec.mu.Lock()
		if len(rec.got) != i+1 {
			rec.mu.Unlock()
			t.Fatalf("%s: B got %d requests, want %d", tt.name, len(rec.got), i+1)
		}
		got := rec.got[i]
		rec.mu.Unlock()
		if id := got.Get("X-Request-Id"); id != tt.wantID || len(got["X-Request-Id"]) != 1 {
			t.Errorf("%s: B got X-Request-ID %q, want %q once", tt.name, got["X-Request-Id"], tt.wantID)
		}
		if st := got.Get("Tracestate"); st != tt.wantState {
			t.Errorf("%s: B got tracestate %q, want %q", tt.name, st, tt.wantState)
		}
		tp := got.Get("Traceparent")
		if tt.wantTrace == "" {
			if tp != "" {
				t.Errorf("%s: B got traceparent %q, want none", tt.name, tp)
			}
			continue
		}
		gotTrace, gotSpan, _, ok := reqlog.ParseTraceParent(tp)
		if !ok || tp[:3] != "00-" || gotTrace != tt.wantTrace || gotSpan == span {
			t.Errorf("%s: B got traceparent %q, want version 00, trace %s and a new parent id", tt.name, tp, tt.wantTrace)
		}
	}
	// The caller's request is left as the caller made it.
	for i, h := range callerHeaders {
		if h.Get("Traceparent") != "" || (h.Get("X-Request-Id") != "" && h.Get("X-Request-Id") != "mine") {
			t.Errorf("request %d: the caller's headers became %v, want them untouched", i, h)
		}
	}
}

// TestTransportOutsideRequest checks that a call made outside any request
// goes out as it was made.
func TestTransportOutsideRequest(t *testing.T) {
	t.Parallel()
	var rec headerRecorder
	b := httptest.NewServer(&rec)
	t.Cleanup(b.Close)
	client := &http.Client{Transport: logging.Transport{Base: http.DefaultTransport}}
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Get(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(rec.got) != 1 || len(rec.got[0]["X-Request-Id"])+len(rec.got[0]["Traceparent"]) != 0 {
		t.Errorf("got %v, want one request without propagation headers", rec.got)
	}
}
