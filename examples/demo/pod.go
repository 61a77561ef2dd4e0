package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Timings of the demo's Pods: the lifecycle budget of
// examples/kubernetes, shrunk so that the demo takes seconds.
const (
	defaultLag       = 1500 * time.Millisecond // endpoint removal → balancer (kube-proxy lag)
	preStopSleep     = 2 * time.Second         // prestop --sleep
	shutdownDelay    = 3 * time.Second         // LIFECYCLE_SHUTDOWN_DELAY ≥ lag + readiness notice
	drainTimeout     = 5 * time.Second         // LIFECYCLE_DRAIN_TIMEOUT
	gracePeriod      = 15 * time.Second        // terminationGracePeriodSeconds
	readinessPeriod  = 500 * time.Millisecond  // readinessProbe periodSeconds
	failureThreshold = 2                       // readinessProbe failureThreshold
	coldKeys         = 300                     // COLD_KEYS: cache keys that start cold
	warmupRequests   = 3000                    // warmup --requests
)

// pod is one instance of the example service, run the way kubelet runs a
// container: entrypoint and postStart hook together, readiness probes once
// the hook returns, preStop hook then SIGTERM then (after the grace period)
// SIGKILL.
type pod struct {
	name string
	bin  string // directory of the binaries
	addr string // 127.0.0.1:port
	cmd  *exec.Cmd
	exit chan error // the entrypoint's exit, once
	log  io.Writer
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startPod starts the service with the demo's lifecycle configuration.
// Without podlife, the service has no shutdown delay: it stops listening
// at SIGTERM.
func startPod(ctx context.Context, name, bin string, podlife bool, log io.Writer) (*pod, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &pod{name: name, bin: bin, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), exit: make(chan error, 1), log: log}
	delay, preStop := shutdownDelay, preStopSleep
	if !podlife {
		delay, preStop = 0, 0
	}
	p.cmd = exec.Command(filepath.Join(bin, "service"))
	p.cmd.Env = append(os.Environ(),
		"PORT="+strconv.Itoa(port),
		"COLD_KEYS="+strconv.Itoa(coldKeys),
		"LIFECYCLE_SHUTDOWN_DELAY="+delay.String(),
		"LIFECYCLE_DRAIN_TIMEOUT="+drainTimeout.String(),
		"LIFECYCLE_PRESTOP="+preStop.String(),
		"LIFECYCLE_TERMINATION_GRACE_PERIOD="+gracePeriod.String(),
	)
	p.cmd.Stdout, p.cmd.Stderr = prefixed(log, name), prefixed(log, name)
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() { p.exit <- p.cmd.Wait() }()
	return p, nil
}

// url returns the pod's URL for path.
func (p *pod) url(path string) string { return "http://" + p.addr + path }

// exec runs one of the podlife binaries the way kubelet runs an exec hook
// or probe: a new process, bounded by ctx, its output kept for the record.
func (p *pod) exec(ctx context.Context, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(p.bin, bin), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// warmupSummary is the part of warmup's summary line the demo reports.
type warmupSummary struct {
	Requests  uint64 `json:"requests"`
	Successes uint64 `json:"successes"`
	Latency   struct {
		P50 float64 `json:"p50"`
		P99 float64 `json:"p99"`
	} `json:"latency_ms"`
	ElapsedMS float64 `json:"elapsed_ms"`
}

// String describes the warm-up for the demo's output.
func (s warmupSummary) String() string {
	if s.Requests == 0 {
		return "no postStart hook"
	}
	return fmt.Sprintf("postStart warmup sent %d requests in %.1fs (p99 %.1fms while cold)", s.Requests, s.ElapsedMS/1000, s.Latency.P99)
}

// postStart runs warmup as the postStart hook: wait for /startupz, then
// load /hello. Kubelet puts no deadline on the hook; warmup has its own.
func (p *pod) postStart(ctx context.Context) (warmupSummary, error) {
	out, err := p.exec(ctx, "warmup",
		"--wait", p.url("/startupz"),
		"--requests", strconv.Itoa(warmupRequests),
		"--concurrency", "8",
		"--timeout", "30s",
		"--strict",
		p.url("/hello"))
	fmt.Fprintf(prefixed(p.log, p.name+" postStart"), "%s", out)
	var sum warmupSummary
	if err != nil {
		return sum, fmt.Errorf("%s: postStart hook failed (kubelet would kill the container): %w", p.name, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var line struct {
			Phase string `json:"phase"`
			warmupSummary
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Phase == "summary" {
			return line.warmupSummary, nil
		}
	}
	return sum, fmt.Errorf("%s: no summary line in warmup's output", p.name)
}

// probe runs one readiness probe: probe with its own timeout below the
// (1s) timeoutSeconds.
func (p *pod) probe(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := p.exec(ctx, "probe", "--timeout", "800ms", p.url("/readyz"))
	return err == nil
}

// readiness probes every period, as kubelet does once postStart has
// returned, and calls onChange with each change of the result; it returns
// when ctx ends. The first call reports the first result.
func (p *pod) readiness(ctx context.Context, onChange func(ready bool)) {
	t := time.NewTicker(readinessPeriod)
	defer t.Stop()
	ready, failures, first := false, 0, true
	for {
		ok := p.probe(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case ok:
			failures = 0
			if !ready || first {
				ready, first = true, false
				onChange(true)
			}
		default:
			failures++
			if (ready && failures >= failureThreshold) || first {
				ready, first = false, false
				onChange(false)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// terminate runs the preStop hook (if preStop), sends SIGTERM, and waits for the exit,
// sending SIGKILL when the grace period is over. It returns how long each
// step took from the start and the entrypoint's exit error.
func (p *pod) terminate(ctx context.Context, preStop bool) (sigterm, exited time.Duration, err error) {
	start := time.Now()
	grace := time.NewTimer(gracePeriod)
	defer grace.Stop()
	if preStop {
		hookCtx, cancel := context.WithTimeout(ctx, gracePeriod)
		out, hookErr := p.exec(hookCtx, "prestop",
			"--notify", p.url("/drainz"),
			"--sleep", preStopSleep.String())
		cancel()
		fmt.Fprintf(prefixed(p.log, p.name+" preStop"), "%s", out)
		if hookErr != nil {
			// Kubelet logs a failed preStop hook and carries on with SIGTERM.
			fmt.Fprintf(prefixed(p.log, p.name+" preStop"), "preStop hook failed: %v\n", hookErr)
		}
	}
	sigterm = time.Since(start)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return sigterm, time.Since(start), err
	}
	select {
	case err = <-p.exit:
	case <-grace.C:
		p.cmd.Process.Kill()
		err = errors.Join(errors.New("killed at the end of the grace period"), <-p.exit)
	}
	return sigterm, time.Since(start), err
}

// kill ends the pod at once, if it still runs.
func (p *pod) kill() {
	p.cmd.Process.Kill() // an error means it has exited already
}

// prefixed writes each line to w after "  [name] "; io.Discard stays
// io.Discard.
func prefixed(w io.Writer, name string) io.Writer {
	if w == io.Discard {
		return w
	}
	return &lineWriter{w: w, prefix: "  [" + name + "] "}
}

// syncWriter serialises writes to w: the demo's lines come from several
// goroutines (each process's output, the load, the steps).
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// lineWriter writes whole lines, each with a prefix, to a syncWriter. One
// goroutine writes to a lineWriter (exec copies each stream in its own).
type lineWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.buf[:i])
		l.buf = l.buf[i+1:]
	}
}
