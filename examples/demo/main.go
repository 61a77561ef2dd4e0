// Command demo runs the whole Pod lifecycle of a rolling update on this
// machine, with real processes and no Docker or cluster: `make demo`.
//
// It builds the example service and the podlife binaries (no time limit:
// with a cold Go cache that takes minutes; it shows progress), then plays
// kubelet and kube-proxy, within --rollout-timeout (90s):
//
//  1. a Pod that takes traffic cold, without warm-up, to measure what
//     warm-up saves;
//  2. v1 starts; warmup runs as its postStart hook; probe polls readiness
//     as kubelet would (exec, every period); once ready, v1 joins an L4
//     load balancer that plays kube-proxy;
//  3. load flows through the balancer for the rest of the run;
//  4. v2 starts the same way and joins;
//  5. v1 is deleted: its endpoint leaves the balancer only after a
//     propagation lag, while prestop runs as its preStop hook and SIGTERM
//     follows; v1 drains and exits;
//  6. a summary: warm-up latency before and after, requests served and
//     failed during the rollout (zero).
//
// It exits 0 when the rollout dropped no request, 1 otherwise. With
// --without-podlife the same rollout runs with no warm-up, no preStop hook
// and no shutdown delay, and shows the failed requests podlife prevents.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// run parses the flags and runs the demo.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.BoolVar(&cfg.verbose, "verbose", false, "show the processes' own output (service logs, warmup JSON lines)")
	fs.StringVar(&cfg.binDir, "bin", "", "use the service, probe, warmup and prestop binaries in this directory instead of building them")
	fs.BoolVar(&cfg.without, "without-podlife", false, "the same rollout with no warm-up, no preStop hook and no shutdown delay: requests fail")
	fs.DurationVar(&cfg.lag, "lag", defaultLag, "how long the balancer keeps routing to a deleted endpoint (kube-proxy's lag)")
	fs.DurationVar(&cfg.deadline, "rollout-timeout", deadline, "how long the rollout may take, from the first Pod to the summary (building the binaries is not counted)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return demo(ctx, cfg, stdout, stderr)
}
