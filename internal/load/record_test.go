package load

import (
	"fmt"
	"testing"
	"time"
)

func TestRecorderCounts(t *testing.T) {
	t.Parallel()
	r := newRecorder(Warm{}, false)
	t0 := time.Now()
	for i := range 10 {
		r.record(t0, time.Millisecond, 200, true, "")
		if i < 3 {
			r.record(t0, time.Millisecond, 503, false, "503 Service Unavailable")
		}
	}
	for i := range MaxErrorKinds + 5 {
		r.record(t0, time.Millisecond, -1, false, fmt.Sprintf("error %d", i))
	}
	r.record(t0, time.Millisecond, -1, false, "")
	s := r.summary(StopRequests, 2*time.Second)
	if got, want := s.Requests, uint64(10+3+MaxErrorKinds+5+1); got != want {
		t.Errorf("requests: got %d, want %d", got, want)
	}
	if got, want := s.Successes, uint64(10); got != want {
		t.Errorf("successes: got %d, want %d", got, want)
	}
	if got, want := fmt.Sprint(s.Codes), "map[200:10 503:3]"; got != want {
		t.Errorf("codes: got %s, want %s", got, want)
	}
	if got, want := len(s.Errors), MaxErrorKinds+1; got != want {
		t.Errorf("error kinds: got %d (%v), want %d: the first %d and other", got, s.Errors, want, MaxErrorKinds)
	}
	if got, want := s.Errors["other"], uint64(5+1); got != want {
		t.Errorf("other errors: got %d, want %d", got, want)
	}
	if got, want := s.Rate, float64(s.Requests)/2; got != want {
		t.Errorf("rate: got %v, want %v", got, want)
	}
	if got, want := s.P99, time.Millisecond; got != want {
		t.Errorf("p99: got %v, want %v", got, want)
	}
}

func TestRecorderGRPCCodes(t *testing.T) {
	t.Parallel()
	r := newRecorder(Warm{}, true)
	r.record(time.Now(), time.Millisecond, 0, true, "")
	r.record(time.Now(), time.Millisecond, 12, false, "")
	if got, want := fmt.Sprint(r.summary(StopRequests, time.Second).Codes), "map[OK:1 Unimplemented:1]"; got != want {
		t.Errorf("codes: got %s, want %s", got, want)
	}
}

func TestRecorderLongError(t *testing.T) {
	t.Parallel()
	r := newRecorder(Warm{}, false)
	long := string(make([]byte, 1000))
	r.record(time.Now(), time.Millisecond, -1, false, long)
	for k := range r.summary(StopRequests, time.Second).Errors {
		if len(k) > maxErrorLen+len("…") {
			t.Errorf("error text: got %d bytes, want at most %d", len(k), maxErrorLen+len("…"))
		}
	}
}

// TestRecorderWarm feeds windows of given p99s, one success every
// millisecond, and checks after which window the recorder declares the
// target warm.
func TestRecorderWarm(t *testing.T) {
	t.Parallel()
	const perWindow = 100
	tests := []struct {
		name  string
		warm  Warm
		p99s  []time.Duration // latency of the slowest 2 % of each window
		wantW int             // 1-based window at which it is warm; 0: never
	}{
		{"p99 bound met in window 3", Warm{P99: 10 * time.Millisecond}, ms(50, 20, 9, 5), 3},
		{"p99 bound never met", Warm{P99: time.Millisecond}, ms(50, 20, 9, 5), 0},
		{"plateau after 2 flat windows", Warm{Plateau: 2}, ms(50, 20, 10, 10, 10, 10), 5},
		{"still improving", Warm{Plateau: 2}, ms(50, 40, 30, 20, 10, 5), 0},
		{"small gains are flat", Warm{Plateau: 3}, ms(50, 49, 48, 47, 10), 4},
		{"disabled", Warm{}, ms(50, 50, 50, 50), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.warm.Window = perWindow * time.Millisecond
			r := newRecorder(tt.warm, false)
			now := time.Unix(1000, 0)
			gotW := 0
			for w, p99 := range tt.p99s {
				for i := range perWindow {
					lat := time.Millisecond
					if i%50 == 0 {
						lat = p99
					}
					now = now.Add(time.Millisecond)
					// The first success of window w+1 closes window w.
					if r.record(now.Add(-lat), lat, 200, true, "") && gotW == 0 {
						gotW = w
					}
				}
			}
			// One more success closes the last window.
			if r.record(now.Add(time.Millisecond), time.Millisecond, 200, true, "") && gotW == 0 {
				gotW = len(tt.p99s)
			}
			if gotW != tt.wantW {
				t.Errorf("got warm in window %d, want %d (0 = never)", gotW, tt.wantW)
			}
		})
	}
}

// TestRecorderWarmNeedsSamples checks that a window with fewer than
// MinSamples successes is not judged.
func TestRecorderWarmNeedsSamples(t *testing.T) {
	t.Parallel()
	r := newRecorder(Warm{P99: time.Second, Window: time.Millisecond}, false)
	now := time.Unix(1000, 0)
	for i := range MinSamples - 1 {
		now = now.Add(time.Second)
		if r.record(now, time.Millisecond, 200, true, "") {
			t.Fatalf("got warm after %d samples, want at least %d", i+1, MinSamples)
		}
	}
	// Failures do not count.
	if r.record(now.Add(time.Second), time.Millisecond, 503, false, "") {
		t.Fatalf("got warm after a failure, want failures not to count")
	}
	// The MinSamples-th success fills the window; the next closes it.
	if r.record(now.Add(2*time.Second), time.Millisecond, 200, true, "") {
		t.Fatalf("got warm on the success that fills the window, want the next to judge it")
	}
	if !r.record(now.Add(3*time.Second), time.Millisecond, 200, true, "") {
		t.Errorf("got not warm after %d samples, want warm", MinSamples+1)
	}
}

func ms(vs ...int) []time.Duration {
	out := make([]time.Duration, len(vs))
	for i, v := range vs {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}
