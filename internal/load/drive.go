package load

import (
	"context"
	"sync"
	"time"
)

// doFunc makes request number seq and reports its status code (-1 when
// there was no answer), whether it succeeded, and the error text when
// there was no answer.
type doFunc func(ctx context.Context, seq uint64) (code int, ok bool, errText string)

// drive sends the requests p lets through with workers goroutines
// calling do, paced like vegeta (a pacer goroutine hands a tick to an
// idle worker per request), and reports each result to rec. It is the
// sending loop of the engine vegeta cannot carry, gRPC.
func drive(ctx, pctx context.Context, p *pacer, workers int, do doFunc, rec recordFunc) {
	began := time.Now()
	ticks := make(chan uint64)
	go func() {
		defer close(ticks)
		for seq := uint64(0); ; seq++ {
			if _, stop := p.Pace(time.Since(began), seq); stop {
				return
			}
			select {
			case ticks <- seq:
			case <-pctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for seq := range ticks {
				start := time.Now()
				code, ok, errText := do(ctx, seq)
				rec(start, time.Since(start), code, ok, errText)
			}
		})
	}
	wg.Wait()
}
