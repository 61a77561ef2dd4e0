package main

import (
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// load sends GET requests from a few clients, with keep-alive connections
// like real ones, until stopped; it counts what succeeded and what failed.
// It is bounded in time (ctx) and in count (maxRequests).
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	lastErr    error
	stop       context.CancelFunc
	done       sync.WaitGroup
	client     *http.Client
}

const (
	loadClients = 4
	loadPause   = 5 * time.Millisecond // between a client's requests
	maxRequests = 200_000
)

// startLoad starts the clients against url.
func startLoad(ctx context.Context, url string) *load {
	ctx, cancel := context.WithCancel(ctx)
	tr := &http.Transport{MaxIdleConnsPerHost: loadClients, Proxy: nil}
	l := &load{stop: cancel, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	for range loadClients {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			for ctx.Err() == nil && l.ok.Load()+l.failed.Load() < maxRequests {
				l.one(ctx, url)
				select {
				case <-ctx.Done():
				case <-time.After(loadPause):
				}
			}
		}()
	}
	return l
}

func (l *load) one(ctx context.Context, url string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		panic(err)
	}
	resp, err := l.client.Do(req)
	if ctx.Err() != nil {
		return // stopped: not a failure of the service
	}
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = &statusError{resp.StatusCode}
		}
	}
	if err != nil {
		l.failed.Add(1)
		l.mu.Lock()
		l.lastErr = err
		l.mu.Unlock()
		return
	}
	l.ok.Add(1)
}

// Stop stops the clients and closes their connections.
func (l *load) Stop() {
	l.stop()
	l.done.Wait()
	l.client.CloseIdleConnections()
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "HTTP " + http.StatusText(e.code) }

// latencies sends n requests to url from c clients at once and returns the
// p50 and p99 latency: how the first users of a Pod fare.
func latencies(ctx context.Context, url string, n, c int) (p50, p99 time.Duration, err error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c, Proxy: nil}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	var (
		mu    sync.Mutex
		times []time.Duration
		next  atomic.Int64
		wg    sync.WaitGroup
		first error
	)
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				start := time.Now()
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					panic(err)
				}
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				d := time.Since(start)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				times = append(times, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return 0, 0, first
	}
	slices.Sort(times)
	return times[len(times)/2], times[len(times)*99/100], nil
}
