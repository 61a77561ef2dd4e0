package e2e

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// loadGen sends GETs from a few keep-alive clients until stopped, bounded
// in count, and counts successes and failures.
type loadGen struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	lastErr    error
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	client     *http.Client
}

func startLoadGen(url string, clients int, maxRequests int64) *loadGen {
	ctx, cancel := context.WithCancel(context.Background())
	l := &loadGen{cancel: cancel, client: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: clients, Proxy: nil},
		Timeout:   10 * time.Second,
	}}
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for ctx.Err() == nil && l.ok.Load()+l.failed.Load() < maxRequests {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				resp, err := l.client.Do(req)
				if ctx.Err() != nil {
					return
				}
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = &httpStatusError{resp.StatusCode}
					}
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					l.lastErr = err
					l.mu.Unlock()
				} else {
					l.ok.Add(1)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return l
}

func (l *loadGen) Stop() {
	l.cancel()
	l.wg.Wait()
	l.client.CloseIdleConnections()
}

type httpStatusError struct{ code int }

func (e *httpStatusError) Error() string { return "HTTP " + http.StatusText(e.code) }
