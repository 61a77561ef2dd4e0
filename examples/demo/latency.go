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
