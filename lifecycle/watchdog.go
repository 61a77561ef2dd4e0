package lifecycle

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Heartbeat is a watchdog fed by Beat. Liveness fails when the last beat is
// older than its maximum age: a goroutine stuck in a deadlock stops beating,
// and kubelet restarts the container, where a handler that only answers
// "ok" would keep it alive.
type Heartbeat struct {
	name   string
	maxAge time.Duration
	base   time.Time    // monotonic reference
	last   atomic.Int64 // nanoseconds since base of the last beat
}

// Watchdog registers a heartbeat named name that fails /livez when Beat has
// not been called for longer than maxAge. The registration counts as the
// first beat. Call Beat from the loop whose progress it proves, at least
// every maxAge/2 or so. Watchdogs are not checked once draining has begun, as
// the loops they watch may be stopping. It may be called at any time; it
// panics if name is already taken.
func (l *Lifecycle) Watchdog(name string, maxAge time.Duration) *Heartbeat {
	if maxAge <= 0 {
		panic(fmt.Sprintf("lifecycle: watchdog %q: max age %v, want > 0", name, maxAge))
	}
	h := &Heartbeat{name: name, maxAge: maxAge, base: time.Now()}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := *l.watchdogs.Load()
	for _, o := range old {
		if o.name == name {
			panic(fmt.Sprintf("lifecycle: watchdog %q registered twice", name))
		}
	}
	next := make([]*Heartbeat, len(old), len(old)+1)
	copy(next, old)
	next = append(next, h)
	l.watchdogs.Store(&next)
	return h
}

// Beat records that the watched loop has made progress.
func (h *Heartbeat) Beat() { h.last.Store(int64(time.Since(h.base))) }

// age returns the time since the last beat.
func (h *Heartbeat) age() time.Duration {
	return time.Since(h.base) - time.Duration(h.last.Load())
}

// check returns an error if the heartbeat is stale.
func (h *Heartbeat) check() error {
	if age := h.age(); age > h.maxAge {
		return fmt.Errorf("last beat %v ago, max %v", age.Round(time.Millisecond), h.maxAge)
	}
	return nil
}
