package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Exit codes of the service.
const (
	exitFailure = 1 // the service failed
	exitUsage   = 2 // bad flags or environment
)

// usageError is an error in the flags or the environment.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func exitCode(err error) int {
	if errors.As(err, new(usageError)) {
		return exitUsage
	}
	return exitFailure
}

// options are the service's settings. Each flag has an environment
// variable; a flag wins over it.
type options struct {
	httpAddr     string        // -http-addr, default ":$PORT" (PORT default 8080)
	grpcAddr     string        // -grpc-addr, default ":$GRPC_PORT" if set, else no gRPC
	coldKeys     int           // -cold-keys, $COLD_KEYS: cache keys that start cold (0: no simulated cache)
	coldCost     time.Duration // -cold-cost, $COLD_COST: CPU work to fill one key
	startupDelay time.Duration // -startup-delay, $STARTUP_DELAY: time the startup task takes
	watchdogAge  time.Duration // -watchdog-max-age, $WATCHDOG_MAX_AGE: heartbeat age that fails /livez
}

// parseOptions reads the flags in args (args[0] is the program name) over
// the environment.
func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	o := options{
		httpAddr:     ":8080",
		coldCost:     5 * time.Millisecond,
		watchdogAge:  10 * time.Second,
		startupDelay: 0,
	}
	var errs []error
	if p := getenv("PORT"); p != "" {
		o.httpAddr = net.JoinHostPort("", p)
	}
	if p := getenv("GRPC_PORT"); p != "" {
		o.grpcAddr = net.JoinHostPort("", p)
	}
	envInt := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: not an integer", name, v))
			}
			*dst = n
		}
	}
	envDuration := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: not a duration", name, v))
			}
			*dst = d
		}
	}
	envInt("COLD_KEYS", &o.coldKeys)
	envDuration("COLD_COST", &o.coldCost)
	envDuration("STARTUP_DELAY", &o.startupDelay)
	envDuration("WATCHDOG_MAX_AGE", &o.watchdogAge)
	if err := errors.Join(errs...); err != nil {
		return o, usageError{err}
	}

	name := "service"
	if len(args) > 0 {
		args = args[1:]
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.httpAddr, "http-addr", o.httpAddr, "HTTP listen address ($PORT sets the port)")
	fs.StringVar(&o.grpcAddr, "grpc-addr", o.grpcAddr, "gRPC listen address, empty for none ($GRPC_PORT sets the port)")
	fs.IntVar(&o.coldKeys, "cold-keys", o.coldKeys, "cache keys that start cold: the first request for each is slow ($COLD_KEYS)")
	fs.DurationVar(&o.coldCost, "cold-cost", o.coldCost, "CPU work to fill one cold key ($COLD_COST)")
	fs.DurationVar(&o.startupDelay, "startup-delay", o.startupDelay, "time the startup task takes before /startupz passes ($STARTUP_DELAY)")
	fs.DurationVar(&o.watchdogAge, "watchdog-max-age", o.watchdogAge, "heartbeat age that fails /livez ($WATCHDOG_MAX_AGE)")
	if err := fs.Parse(args); err != nil {
		return o, usageError{err}
	}
	if fs.NArg() > 0 {
		return o, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return o, o.validate()
}

func (o options) validate() error {
	switch {
	case o.httpAddr == "":
		return usageError{errors.New("-http-addr is empty")}
	case o.coldKeys < 0:
		return usageError{fmt.Errorf("-cold-keys %d: want >= 0", o.coldKeys)}
	case o.coldCost < 0:
		return usageError{fmt.Errorf("-cold-cost %v: want >= 0", o.coldCost)}
	case o.startupDelay < 0:
		return usageError{fmt.Errorf("-startup-delay %v: want >= 0", o.startupDelay)}
	case o.watchdogAge <= 0:
		return usageError{fmt.Errorf("-watchdog-max-age %v: want > 0", o.watchdogAge)}
	}
	return nil
}
