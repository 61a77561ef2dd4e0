// Command probe-bench measures the probe binary against grpc-health-probe
// on the same grpc-go health server, in one run, alternating the two:
// binary size, median wall time per exec, CPU time (user+sys) per exec,
// and peak RSS (the median over the runs of each exec's peak). run.sh builds both binaries the same way and calls it.
//
// With -base, it also compares probe with another build of itself (run.sh
// builds one from the git revision BASE names) on an HTTP target, to show
// what a change to the HTTP check costs an exec.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

type sample struct {
	wall, cpu time.Duration
	rssKB     int64
}

type tool struct {
	name    string
	path    string
	args    []string
	samples []sample
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "probe-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	runs := flag.Int("runs", 100, "execs of each binary (alternating)")
	probe := flag.String("probe", "bin/probe", "path of podlife's probe")
	ghp := flag.String("ghp", "", "path of grpc-health-probe")
	gnuTime := flag.String("time", "/usr/bin/time", "path of GNU time, for peak RSS")
	base := flag.String("base", "", "path of another build of probe, compared on an HTTP target")
	flag.Parse()
	if *ghp == "" {
		return fmt.Errorf("--ghp is required")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("orders", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	defer srv.Stop()
	addr := ln.Addr().String()

	tools := []*tool{
		{name: "podlife probe", path: *probe, args: []string{"grpc://" + addr + "/orders"}},
		{name: "grpc-health-probe", path: *ghp, args: []string{"-addr=" + addr, "-service=orders"}},
	}
	// Warm the page cache and check both pass before measuring.
	for _, t := range tools {
		if _, err := execOnce(t); err != nil {
			return err
		}
	}
	// Wall and CPU time: direct execs. Peak RSS: execs under GNU time,
	// in a second pass. (A Go parent forks with CLONE_VM, and Linux then
	// reports the parent's peak RSS as the child's: ru_maxrss is useless
	// here, while GNU time forks a small process.)
	for i := 0; i < *runs; i++ {
		for j := range tools {
			t := tools[(i+j)%len(tools)] // alternate which goes first
			s, err := execOnce(t)
			if err != nil {
				return err
			}
			t.samples = append(t.samples, s)
		}
	}
	for i := 0; i < *runs; i++ {
		for j := range tools {
			t := tools[(i+j)%len(tools)]
			kb, err := peakRSS(*gnuTime, t)
			if err != nil {
				return err
			}
			t.samples[i].rssKB = kb
		}
	}

	fmt.Printf("%d execs each, alternating, against a grpc-go health server on %s\n\n", *runs, addr)
	fmt.Printf("| %-18s | %10s | %12s | %12s | %12s |\n", "binary", "size MB", "median wall", "median CPU", "median RSS MB")
	fmt.Printf("|%s|%s|%s|%s|%s|\n", dashes(20), dashes(12), dashes(14), dashes(14), dashes(14))
	stats := make([][4]float64, len(tools))
	for i, t := range tools {
		fi, err := os.Stat(t.path)
		if err != nil {
			return err
		}
		stats[i] = [4]float64{
			float64(fi.Size()) / 1e6,
			float64(median(t.samples, func(s sample) int64 { return int64(s.wall) })) / 1e6,
			float64(median(t.samples, func(s sample) int64 { return int64(s.cpu) })) / 1e6,
			float64(median(t.samples, func(s sample) int64 { return s.rssKB })) / 1024,
		}
		fmt.Printf("| %-18s | %10.2f | %9.2f ms | %9.2f ms | %12.1f |\n", t.name, stats[i][0], stats[i][1], stats[i][2], stats[i][3])
	}
	r := func(k int) float64 { return stats[0][k] / stats[1][k] }
	fmt.Printf("| %-18s | %9.2f× | %11.2f× | %11.2f× | %11.2f× |\n", "ratio", r(0), r(1), r(2), r(3))
	fmt.Printf("\nwall and CPU: median per exec; RSS: median of each exec's peak (GNU time %%M)\n")
	fmt.Printf("targets: size ≤ 0.55×, wall ≤ 0.7×, CPU ≤ 0.6×, peak RSS ≤ 0.7×\n")
	ok := r(0) <= 0.55 && r(1) <= 0.7 && r(2) <= 0.6 && r(3) <= 0.7
	fmt.Printf("all targets met: %v\n", ok)
	if *base != "" {
		if err := compareHTTP(*runs, *probe, *base); err != nil {
			return err
		}
	}
	if !ok {
		return fmt.Errorf("a target was missed")
	}
	return nil
}

// compareHTTP runs probe and base alternately against one HTTP endpoint
// that answers 200 with a short body, and prints the medians and ratios.
func compareHTTP(runs int, probe, base string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":"ok","checks":{"db":"ok","cache":"ok"}}`)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/healthz"
	tools := []*tool{
		{name: "probe", path: probe, args: []string{url}},
		{name: "probe (base)", path: base, args: []string{url}},
	}
	for _, t := range tools {
		if _, err := execOnce(t); err != nil {
			return err
		}
	}
	for i := 0; i < runs; i++ {
		for j := range tools {
			t := tools[(i+j)%len(tools)]
			s, err := execOnce(t)
			if err != nil {
				return err
			}
			t.samples = append(t.samples, s)
		}
	}
	fmt.Printf("\nprobe against another build of itself (-base), %d execs each, alternating, on %s\n\n", runs, url)
	fmt.Printf("| %-18s | %12s | %12s |\n", "binary", "median wall", "median CPU")
	fmt.Printf("|%s|%s|%s|\n", dashes(20), dashes(14), dashes(14))
	var st [2][2]float64
	for i, t := range tools {
		st[i] = [2]float64{
			float64(median(t.samples, func(s sample) int64 { return int64(s.wall) })) / 1e6,
			float64(median(t.samples, func(s sample) int64 { return int64(s.cpu) })) / 1e6,
		}
		fmt.Printf("| %-18s | %9.2f ms | %9.2f ms |\n", t.name, st[i][0], st[i][1])
	}
	fmt.Printf("| %-18s | %11.2f× | %11.2f× |\n", "ratio", st[0][0]/st[1][0], st[0][1]/st[1][1])
	return nil
}

func execOnce(t *tool) (sample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.path, t.args...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s %v: %v: %s", t.path, t.args, err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return sample{wall: wall, cpu: cpu}, nil
}

// peakRSS runs t under GNU time and returns the maximum resident set
// size it reports, in KiB.
func peakRSS(gnuTime string, t *tool) (int64, error) {
	f, err := os.CreateTemp("", "rss")
	if err != nil {
		return 0, err
	}
	f.Close()
	defer os.Remove(f.Name())
	args := append([]string{"-f", "%M", "-o", f.Name(), t.path}, t.args...)
	if out, err := exec.Command(gnuTime, args...).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%s %v: %v: %s", gnuTime, args, err, out)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return 0, err
	}
	var kb int64
	if _, err := fmt.Sscan(string(b), &kb); err != nil {
		return 0, fmt.Errorf("GNU time wrote %q: %v", b, err)
	}
	return kb, nil
}

func median(s []sample, key func(sample) int64) int64 {
	v := make([]int64, len(s))
	for i := range s {
		v[i] = key(s[i])
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func dashes(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '-'
	}
	return string(b)
}
