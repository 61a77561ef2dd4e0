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

// drive runs plan with Concurrency workers calling do, paced like vegeta
// (a pacer goroutine hands a tick to an idle worker per request); it is
// the engine of the loads vegeta cannot carry, gRPC. Results are
// recorded under a lock, in constant memory.
func drive(ctx context.Context, plan Plan, grpcCodes bool, do doFunc) Summary {
	conc := plan.workers()
	pctx, stopPacing := plan.pacing(ctx)
	defer stopPacing()
	p := newPacer(pctx, plan)
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

	var (
		mu   sync.Mutex
		rec  = newRecorder(plan.Warm, grpcCodes)
		warm bool
		wg   sync.WaitGroup
	)
	for range conc {
		wg.Go(func() {
			for seq := range ticks {
				start := time.Now()
				code, ok, errText := do(ctx, seq)
				latency := time.Since(start)
				if code < 0 && ctx.Err() != nil {
					continue // aborted by us, not by the target
				}
				mu.Lock()
				if rec.record(start, latency, code, ok, errText) && !warm {
					warm = true
					stopPacing()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return rec.summary(stopReason(ctx, pctx, warm), time.Since(began))
}

// pacing returns the context the pacer runs under: ctx, ended after
// plan.Duration when one is set, and by the returned cancel func.
func (plan Plan) pacing(ctx context.Context) (context.Context, context.CancelFunc) {
	if plan.Duration > 0 {
		return context.WithTimeout(ctx, plan.Duration)
	}
	return context.WithCancel(ctx)
}
