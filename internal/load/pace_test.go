package load

import (
	"context"
	"testing"
	"time"
)

func TestPacerDue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		plan Plan
		hit  uint64
		want time.Duration
	}{
		{"constant 1st", Plan{Rate: 100}, 1, 10 * time.Millisecond},
		{"constant 100th", Plan{Rate: 100}, 100, time.Second},
		{"fractional rate", Plan{Rate: 0.5}, 1, 2 * time.Second},
		// Ramp 0→100/s over 10 s: 500 hits are due by its end.
		{"ramp 2nd", Plan{Rate: 100, Ramp: 10 * time.Second}, 2, 632455532 * time.Nanosecond}, // √(2·10·2/100) s
		{"ramp half", Plan{Rate: 100, Ramp: 10 * time.Second}, 125, 5 * time.Second},
		{"ramp end", Plan{Rate: 100, Ramp: 10 * time.Second}, 500, 10 * time.Second},
		{"after ramp", Plan{Rate: 100, Ramp: 10 * time.Second}, 600, 11 * time.Second},
		{"ramp without rate is ignored", Plan{Rate: 0, Ramp: 10 * time.Second}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPacer(context.Background(), tt.plan, nil)
			if p.rate == 0 {
				if p.ramp != 0 {
					t.Errorf("got ramp %v with no rate, want 0", p.ramp)
				}
				return
			}
			got := p.due(tt.hit)
			if d := got - tt.want; d > time.Microsecond || d < -time.Microsecond {
				t.Errorf("due(%d): got %v, want %v", tt.hit, got, tt.want)
			}
		})
	}
}

func TestPacerRate(t *testing.T) {
	t.Parallel()
	p := newPacer(context.Background(), Plan{Rate: 100, Ramp: 10 * time.Second}, nil)
	for _, tt := range []struct {
		at   time.Duration
		want float64
	}{{0, 0}, {5 * time.Second, 50}, {10 * time.Second, 100}, {time.Minute, 100}} {
		if got := p.Rate(tt.at); got != tt.want {
			t.Errorf("Rate(%v): got %v, want %v", tt.at, got, tt.want)
		}
	}
}

func TestPacerStops(t *testing.T) {
	t.Parallel()
	p := newPacer(context.Background(), Plan{Requests: 3}, nil)
	for hits := uint64(0); hits < 3; hits++ {
		if _, stop := p.Pace(0, hits); stop {
			t.Fatalf("Pace after %d hits: got stop, want go on to 3", hits)
		}
	}
	if _, stop := p.Pace(0, 3); !stop {
		t.Errorf("Pace after 3 hits: got go on, want stop at the count")
	}

	// A cancelled context ends a long wait at once.
	ctx, cancel := context.WithCancel(context.Background())
	p = newPacer(ctx, Plan{Rate: 0.001}, nil) // next hit due in 1000 s
	done := make(chan bool)
	go func() {
		_, stop := p.Pace(0, 0)
		done <- stop
	}()
	cancel()
	select {
	case stop := <-done:
		if !stop {
			t.Errorf("Pace on cancel: got go on, want stop")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Pace did not return on cancel: it hangs")
	}
}
