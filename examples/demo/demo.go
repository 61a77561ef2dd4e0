package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/podlife/podlife/internal/sim/tcplb"
	"github.com/podlife/podlife/internal/sim/users"
)

// config is the demo's command line.
type config struct {
	verbose  bool
	binDir   string
	lag      time.Duration
	without  bool          // no warm-up, no preStop hook, no shutdown delay
	deadline time.Duration // of the rollout; 0 means the constant deadline
}

// deadline bounds the rollout by default (--rollout-timeout), from the
// first Pod to the summary: it must not hang. Building the binaries is not
// part of it: with a cold Go cache that alone takes minutes on a small
// machine.
const deadline = 90 * time.Second

// buildProgressEvery is how often a long build says how far it got.
const buildProgressEvery = 15 * time.Second

// probeSample is how many requests measure a Pod's first-user latency,
// sent by loadClients at once.
const probeSample = 600

// The users during the rollout: keep-alive clients, each with a connection
// of its own, and clients that open a new connection for every request, as
// new users arrive. The new connections are what meets a Pod that stopped
// listening while the balancer still routes to it.
const (
	loadClients    = 4
	newConnClients = 1
)

func demo(ctx context.Context, cfg config, stdout, stderr io.Writer) (err error) {
	stdout = &syncWriter{w: stdout}
	log := io.Discard
	if cfg.verbose {
		log = &syncWriter{w: stderr}
	}
	say := func(step, format string, args ...any) {
		fmt.Fprintf(stdout, "%-9s %s\n", step, fmt.Sprintf(format, args...))
	}
	begin := time.Now()
	fmt.Fprintln(stdout, "podlife demo: a rolling update on this machine — real processes, no Docker, no cluster")

	bin := cfg.binDir
	if bin == "" {
		dir, err := os.MkdirTemp("", "podlife-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		start := time.Now()
		if err := build(ctx, dir, say); err != nil {
			return err
		}
		bin = dir
		say("build", "service, probe, warmup, prestop (%.1fs)", time.Since(start).Seconds())
	}

	// From here on, the rollout: bounded, and said so when it runs out.
	limit := cfg.deadline
	if limit <= 0 {
		limit = deadline
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	defer func() {
		if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("the rollout ran out of time: --rollout-timeout %v from the first Pod to the summary (building is not counted) ran out: %w", limit, err)
		}
	}()
	rolloutStart := time.Now()

	var pods []*pod
	defer func() {
		for _, p := range pods {
			p.kill()
		}
	}()
	start := func(name string) (*pod, error) {
		p, err := startPod(ctx, name, bin, !cfg.without, log)
		if err == nil {
			pods = append(pods, p)
		}
		return p, err
	}
	waitStarted := func(p *pod) error {
		for ctx.Err() == nil {
			if _, err := p.exec(ctx, "probe", "--timeout", "800ms", p.url("/startupz")); err == nil {
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		return ctx.Err()
	}

	// 1. A Pod that gets traffic the moment it starts: its first users pay
	// for the cold caches.
	cold, err := start("cold")
	if err != nil {
		return err
	}
	if err := waitStarted(cold); err != nil {
		return fmt.Errorf("cold: never started: %w", err)
	}
	coldP50, coldP99, err := latencies(ctx, cold.url("/hello"), probeSample, loadClients)
	if err != nil {
		return fmt.Errorf("cold: %w", err)
	}
	cold.kill()
	say("cold", "a Pod that takes traffic without warm-up: its first %d requests: p50 %s, p99 %s", probeSample, ms(coldP50), ms(coldP99))

	lb, err := tcplb.New()
	if err != nil {
		return err
	}
	defer lb.Close()

	// 2. and 4. Pods started as kubelet starts them: entrypoint and
	// postStart together, then readiness probes; ready means "in the
	// balancer".
	type readyPod struct {
		p       *pod
		sum     warmupSummary
		readyIn time.Duration
		stop    context.CancelFunc
	}
	launch := func(name string) (*readyPod, error) {
		t0 := time.Now()
		p, err := start(name)
		if err != nil {
			return nil, err
		}
		var sum warmupSummary
		if !cfg.without {
			if sum, err = p.postStart(ctx); err != nil {
				return nil, err
			}
		}
		ready := make(chan struct{})
		pctx, stop := context.WithCancel(ctx)
		go p.readiness(pctx, func(ok bool) {
			if ok {
				lb.Add(p.addr)
				close(ready)
			}
		})
		select {
		case <-ready:
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("%s: never ready: %w", name, ctx.Err())
		}
		return &readyPod{p, sum, time.Since(t0), stop}, nil
	}

	v1, err := launch("v1")
	if err != nil {
		return err
	}
	defer v1.stop()
	say("v1", "started; %s; ready after %.1fs; in the balancer", v1.sum, v1.readyIn.Seconds())
	// Measured before the load starts, as the cold Pod was.
	warmP50, warmP99, err := latencies(ctx, v1.p.url("/hello"), probeSample, loadClients)
	if err != nil {
		return fmt.Errorf("v1: %w", err)
	}

	// 3. Users.
	l, err := users.Start(ctx, users.Config{
		URL:      "http://" + lb.Addr() + "/hello",
		Clients:  loadClients,
		NewConns: newConnClients,
	})
	if err != nil {
		return err
	}
	say("load", "%d clients with keep-alive and %d opening a new connection per request → %s (L4 balancer; a deleted endpoint keeps getting connections for %v)",
		loadClients, newConnClients, lb.Addr(), cfg.lag)
	time.Sleep(time.Second)

	v2, err := launch("v2")
	if err != nil {
		l.Stop()
		return err
	}
	defer v2.stop()
	say("v2", "started; %s; ready after %.1fs; in the balancer", v2.sum, v2.readyIn.Seconds())
	time.Sleep(time.Second)

	// 5. v1 is deleted: the endpoint controller and kubelet act at once.
	dropped := lb.RemoveAfter(v1.p.addr, cfg.lag)
	sigterm, exited, exitErr := v1.p.terminate(ctx, !cfg.without)
	v1.stop()
	<-dropped
	time.Sleep(time.Second) // v2 alone serves for a while
	res := l.Stop()
	exit := "exit 0"
	if exitErr != nil {
		exit = exitErr.Error()
	}
	hook := fmt.Sprintf("preStop `prestop --notify /drainz --sleep %v`", preStopSleep)
	if cfg.without {
		hook = "no preStop hook, no shutdown delay"
	}
	say("v1", "deleted: %s; endpoint dropped after %v; SIGTERM at %.1fs; %s at %.1fs",
		hook, cfg.lag, sigterm.Seconds(), exit, exited.Seconds())

	served, failed := res.Served, res.Failed
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "summary")
	fmt.Fprintf(stdout, "  warm-up    first %d requests of a Pod: p50 %s → %s, p99 %s → %s (cold → v1 %s)\n",
		probeSample, ms(coldP50), ms(warmP50), ms(coldP99), ms(warmP99), map[bool]string{false: "after postStart warmup", true: "without warm-up"}[cfg.without])
	fmt.Fprintf(stdout, "  rollout    %d requests served, %d failed, while v1 was replaced by v2\n", served, failed)
	fmt.Fprintf(stdout, "  took       %.1fs (rollout %.1fs)\n", time.Since(begin).Seconds(), time.Since(rolloutStart).Seconds())
	switch {
	case failed > 0:
		return fmt.Errorf("%d requests failed during the rollout (first: %s)", failed, res.Errors[0])
	case exitErr != nil:
		return fmt.Errorf("v1 did not shut down cleanly: %w", exitErr)
	case served == 0:
		return errors.New("no request was served")
	}
	return nil
}

// build compiles the example service and the podlife binaries into dir.
// It has no deadline of its own — with a cold Go cache it takes minutes on
// a small machine — and says every buildProgressEvery how far it got.
// Interrupted (ctx done: Ctrl-C), it stops go build and the compilers it
// runs with an interrupt; go build's work directory, which go leaves
// behind then, is made inside dir and removed.
func build(ctx context.Context, dir string, say func(step, format string, args ...any)) error {
	goBin := os.Getenv("GO")
	if goBin == "" {
		goBin = "go"
	}
	root, err := exec.CommandContext(ctx, goBin, "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return fmt.Errorf("go list -m (run the demo from the podlife module): %w", err)
	}
	say("build", "compiling service, probe, warmup, prestop (minutes the first time on a machine, with a cold Go cache; seconds after)")
	// -v names each package as it is compiled (cached ones are not): the
	// progress count.
	cmd := exec.CommandContext(ctx, goBin, "build", "-v", "-o", dir+string(filepath.Separator),
		"./examples/service", "./cmd/probe", "./cmd/warmup", "./cmd/prestop")
	cmd.Dir = strings.TrimSpace(string(root))
	// go build leaves its work directory behind when interrupted: have it
	// make that inside dir, which the demo removes.
	tmp := filepath.Join(dir, "go-tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTMPDIR="+tmp)
	interruptible(cmd)
	cmd.WaitDelay = 30 * time.Second // then killed
	out := &buildOutput{}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(buildProgressEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return fmt.Errorf("build interrupted after %.0fs: %w", time.Since(start).Seconds(), ctx.Err())
			}
			if err != nil {
				return fmt.Errorf("go build: %w\n%s", err, out.errors())
			}
			return nil
		case <-tick.C:
			say("build", "… %.0fs, %d packages compiled so far", time.Since(start).Seconds(), out.packages())
		}
	}
}

// buildOutput collects go build -v's output: one package path per line,
// and compiler messages, which are what an error shows.
type buildOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *buildOutput) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(b)
}

// packages returns how many packages were compiled so far.
func (o *buildOutput) packages() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, l := range strings.Split(o.buf.String(), "\n") {
		if isPackageLine(l) {
			n++
		}
	}
	return n
}

// errors returns the output without the package lines.
func (o *buildOutput) errors() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(o.buf.String()), "\n") {
		if !isPackageLine(l) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// isPackageLine reports whether l is a line of go build -v: an import path,
// which has no space, colon or leading "#" (compiler messages do).
func isPackageLine(l string) bool {
	return l != "" && !strings.ContainsAny(l, " :\t") && !strings.HasPrefix(l, "#")
}

// ms formats d in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}
