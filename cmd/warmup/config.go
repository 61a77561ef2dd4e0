package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/cli"
	"github.com/podlife/podlife/internal/load"
)

// config is a validated command line, ready to run.
type config struct {
	o      options
	waits  []check.Checker
	plan   load.Plan
	http   *load.HTTPConfig // exactly one of http and grpc is set
	grpc   *load.GRPCConfig
	loads  []string // the load targets, for the log
	checks check.Options
}

// validate checks the options and the targets and builds the run's
// config, before any network traffic. Its errors are *cli.UsageError or
// *check.ConfigError values naming the flag or the target.
func (o options) validate(targets []string) (*config, error) {
	for _, unused := range []struct{ name, value, hint string }{
		{"STATUS", o.Status, "WARMUP_WAIT_STATUS"},
		{"BODY_CONTAINS", o.BodyContains, ""},
		{"BODY_REGEXP", o.BodyRegexp, ""},
	} {
		if unused.value != "" {
			msg := fmt.Sprintf("WARMUP_%s is not a warmup setting", unused.name)
			if unused.hint != "" {
				msg += "; the wait checks take " + unused.hint
			}
			return nil, cli.Usagef("%s", msg)
		}
	}
	if len(targets) == 0 && o.Targets == "" {
		return nil, cli.Usagef("no load target; want e.g. warmup --wait http://127.0.0.1:8080/healthz --requests 1000 http://127.0.0.1:8080/")
	}
	if err := o.validateNumbers(); err != nil {
		return nil, err
	}
	if o.ReadyFile != "" {
		if err := checkReadyFile(o.ReadyFile); err != nil {
			return nil, err
		}
	}
	c := &config{o: o}
	base, err := o.CheckFlags.Options()
	if err != nil {
		return nil, err
	}
	c.checks = base
	if err := c.buildWaits(); err != nil {
		return nil, err
	}
	if err := c.buildLoad(targets); err != nil {
		return nil, err
	}
	if err := c.checkFlagUse(); err != nil {
		return nil, err
	}
	c.plan = load.Plan{
		Requests:    uint64(o.Requests),
		Duration:    o.Duration,
		Rate:        o.Rate,
		Ramp:        o.Ramp,
		Concurrency: o.Concurrency,
		Warm:        load.Warm{P99: o.WarmP99, Plateau: o.WarmPlateau, Window: o.WarmWindow},
	}
	return c, nil
}

// validateNumbers checks the flags that are numbers and durations.
func (o options) validateNumbers() error {
	switch {
	case o.Timeout <= 0:
		return cli.Usagef("--timeout: must be positive, e.g. 2m")
	case o.WaitTimeout < 0:
		return cli.Usagef("--wait-timeout: must not be negative")
	case o.WaitInterval <= 0:
		return cli.Usagef("--wait-interval: must be positive, e.g. 1s")
	case o.RequestTimeout < 0:
		return cli.Usagef("--request-timeout: must not be negative")
	case o.Requests < 0:
		return cli.Usagef("--requests: must not be negative, got %d", o.Requests)
	case o.Duration < 0:
		return cli.Usagef("--duration: must not be negative, got %s", o.Duration)
	case o.Rate < 0 || o.Rate != o.Rate:
		return cli.Usagef("--rate: must be a number ≥ 0, got %v", o.Rate)
	case o.Ramp < 0:
		return cli.Usagef("--ramp: must not be negative, got %s", o.Ramp)
	case o.Ramp > 0 && o.Rate == 0:
		return cli.Usagef("--ramp: needs --rate, the rate to ramp up to")
	case o.Concurrency < 1:
		return cli.Usagef("--concurrency: must be at least 1, got %d", o.Concurrency)
	case o.Concurrency > maxConcurrency:
		return cli.Usagef("--concurrency: must be at most %d, got %d", maxConcurrency, o.Concurrency)
	case o.WarmP99 < 0:
		return cli.Usagef("--warm-p99: must not be negative")
	case o.WarmPlateau < 0:
		return cli.Usagef("--warm-plateau: must not be negative")
	case o.WarmWindow <= 0:
		return cli.Usagef("--warm-window: must be positive, e.g. 1s")
	case o.MinSuccess < 0 || o.MinSuccess > 1 || o.MinSuccess != o.MinSuccess:
		return cli.Usagef("--min-success: must lie between 0 and 1, got %v", o.MinSuccess)
	}
	if o.Requests == 0 && o.Duration == 0 {
		switch {
		case o.Rate > 0:
			return cli.Usagef("--rate: the load needs a way to stop; add --requests N or --duration D")
		case o.WarmP99 > 0 || o.WarmPlateau > 0:
			return cli.Usagef("--warm-p99/--warm-plateau stop early within a cap; add --requests N or --duration D")
		}
		return cli.Usagef("no amount of load; give --requests N and/or --duration D")
	}
	if f := o.TargetsFormat; f != vegeta.HTTPTargetFormat && f != vegeta.JSONTargetFormat {
		return cli.Usagef("--targets-format: %q is not a format; want http or json", f)
	}
	if o.Body != "" && o.BodyFile != "" {
		return cli.Usagef("--body and --body-file: give one of them")
	}
	return nil
}

// buildWaits builds a check per --wait target, each with the options
// that fit its scheme: TLS for https/grpcs, --http-path for unix,
// --max-age for file, --unix-socket for http. Method, headers and body
// are the load's: a wait check is a plain GET.
func (c *config) buildWaits() error {
	for _, raw := range c.o.Wait {
		t, err := check.ParseTarget(raw)
		if err != nil {
			return err
		}
		wo := check.Options{Authority: c.checks.Authority, UseProxy: c.checks.UseProxy}
		if c.o.WaitStatus != "" {
			if wo.Status, err = check.ParseStatusSet(c.o.WaitStatus); err != nil {
				return &check.ConfigError{Flag: "wait-status", Msg: err.Error()}
			}
		}
		switch t.Scheme {
		case "https", "grpcs":
			wo.TLS = c.checks.TLS
		}
		switch t.Scheme {
		case "http", "https":
			wo.UnixSocket = c.checks.UnixSocket
		case "unix":
			wo.HTTPPath = c.checks.HTTPPath
		case "file":
			wo.MaxAge = c.checks.MaxAge
		}
		ch, err := check.New(raw, wo)
		if err != nil {
			return err
		}
		c.waits = append(c.waits, ch)
	}
	return nil
}

// buildLoad sorts the load targets into HTTP or gRPC load.
func (c *config) buildLoad(targets []string) error {
	var httpTargets []check.Target
	var grpcTargets []load.GRPCTarget
	for _, raw := range targets {
		t, err := check.ParseTarget(raw)
		if err != nil {
			return err
		}
		switch t.Scheme {
		case "http", "https":
			httpTargets = append(httpTargets, t)
		case "grpc", "grpcs":
			svc, mth, ok := strings.Cut(t.Service, "/")
			if !ok || svc == "" || mth == "" || strings.Contains(mth, "/") {
				return &check.ConfigError{Target: raw, Msg: "a gRPC load target names a method; want grpc://host:port/package.Service/Method"}
			}
			if len(grpcTargets) > 0 && (t.Scheme == "grpcs") != strings.HasPrefix(grpcTargets[0].Raw, "grpcs") {
				return &check.ConfigError{Target: raw, Msg: "mixes grpc:// and grpcs://; run warmup once for each"}
			}
			grpcTargets = append(grpcTargets, load.GRPCTarget{Raw: raw, Addr: t.Host, Method: t.Service})
		default:
			return &check.ConfigError{Target: raw, Msg: "warmup loads http(s):// and grpc(s):// targets; " + string(t.Scheme) + ":// targets go with --wait"}
		}
		c.loads = append(c.loads, raw)
	}
	if len(grpcTargets) > 0 && (len(httpTargets) > 0 || c.o.Targets != "") {
		return cli.Usagef("HTTP and gRPC load in one run is not supported; run warmup once for each")
	}
	if len(grpcTargets) > 0 {
		return c.buildGRPC(grpcTargets)
	}
	return c.buildHTTP(httpTargets)
}

func (c *config) buildHTTP(targets []check.Target) error {
	switch {
	case c.o.Data != "":
		return cli.Usagef("--data: is the gRPC request; the body of HTTP load is --body or --body-file")
	case len(c.o.Protoset) > 0:
		return cli.Usagef("--protoset: needs a grpc:// load target")
	}
	body := c.checks.Body
	if c.o.BodyFile != "" {
		b, err := os.ReadFile(c.o.BodyFile)
		if err != nil {
			return &check.ConfigError{Flag: "body-file", Msg: "cannot read: " + shortPathError(err)}
		}
		body = b
	}
	header := c.checks.Header.Clone()
	if c.checks.Authority != "" {
		if header == nil {
			header = http.Header{}
		}
		header.Set("Host", c.checks.Authority)
	}
	method := c.checks.Method
	if method == "" {
		method = http.MethodGet
	}
	hc := &load.HTTPConfig{
		HTTP2:          c.o.HTTP2,
		H2C:            c.o.H2C,
		UnixSocket:     c.checks.UnixSocket,
		UseProxy:       c.checks.UseProxy,
		RequestTimeout: c.o.RequestTimeout,
	}
	for _, t := range targets {
		hc.Targets = append(hc.Targets, vegeta.Target{Method: method, URL: t.Raw, Body: body, Header: header})
	}
	if c.o.Targets != "" {
		more, err := readTargets(c.o.Targets, c.o.TargetsFormat, body, header)
		if err != nil {
			return err
		}
		hc.Targets = append(hc.Targets, more...)
		for _, t := range more {
			c.loads = append(c.loads, t.Method+" "+t.URL)
		}
	}
	if c.loadsScheme(hc.Targets, "https") {
		tc, err := c.checks.TLS.Config("")
		if err != nil {
			return err
		}
		hc.TLS = tc
	}
	if c.o.H2C && !c.loadsScheme(hc.Targets, "http") {
		return cli.Usagef("--h2c: needs an http:// load target (https:// negotiates HTTP/2 by itself)")
	}
	c.http = hc
	return nil
}

func (c *config) buildGRPC(targets []load.GRPCTarget) error {
	switch {
	case c.checks.Method != "":
		return cli.Usagef("--method: is for HTTP load; a gRPC target names its method")
	case len(c.checks.Body) > 0 || c.o.BodyFile != "":
		return cli.Usagef("--body: is for HTTP load; the gRPC request is --data")
	case c.o.H2C:
		return cli.Usagef("--h2c: is for HTTP load; grpc:// is always HTTP/2")
	}
	if c.o.Data != "" && !json.Valid([]byte(c.o.Data)) {
		return &check.ConfigError{Flag: "data", Msg: "not valid JSON"}
	}
	gc := &load.GRPCConfig{
		Targets:        targets,
		Authority:      c.checks.Authority,
		Header:         c.o.Header,
		Data:           []byte(c.o.Data),
		Protosets:      c.o.Protoset,
		UseProxy:       c.checks.UseProxy,
		RequestTimeout: c.o.RequestTimeout,
	}
	if strings.HasPrefix(targets[0].Raw, "grpcs") {
		tc, err := c.checks.TLS.Config("")
		if err != nil {
			return err
		}
		gc.TLS = tc
	}
	c.grpc = gc
	return nil
}

// readTargets reads a vegeta targets file; body and header are the
// defaults of its targets.
func readTargets(path, format string, body []byte, header http.Header) ([]vegeta.Target, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &check.ConfigError{Flag: "targets", Msg: "cannot read: " + shortPathError(err)}
	}
	var tr vegeta.Targeter
	if format == vegeta.JSONTargetFormat {
		tr = vegeta.NewJSONTargeter(bytes.NewReader(b), body, header)
	} else {
		tr = vegeta.NewHTTPTargeter(bytes.NewReader(b), body, header)
	}
	tgts, err := vegeta.ReadAllTargets(tr)
	if err != nil {
		if errors.Is(err, vegeta.ErrNoTargets) {
			return nil, &check.ConfigError{Flag: "targets", Msg: path + " holds no target"}
		}
		return nil, &check.ConfigError{Flag: "targets", Msg: fmt.Sprintf("%s: %v", path, err)}
	}
	for _, t := range tgts {
		pt, err := check.ParseTarget(t.URL)
		if err != nil {
			return nil, &check.ConfigError{Flag: "targets", Msg: fmt.Sprintf("%s: %v", path, err)}
		}
		if pt.Scheme != "http" && pt.Scheme != "https" {
			return nil, &check.ConfigError{Flag: "targets", Msg: fmt.Sprintf("%s: %s: want an http:// or https:// URL", path, t.URL)}
		}
	}
	return tgts, nil
}

// checkFlagUse rejects check flags that no wait or load target uses.
func (c *config) checkFlagUse() error {
	var schemes []check.Scheme
	for _, s := range []string{"http", "https", "grpc", "grpcs", "tcp", "unix", "file"} {
		if c.usesScheme(s) {
			schemes = append(schemes, check.Scheme(s))
		}
	}
	return check.Unused(c.checks, schemes...)
}

// usesScheme reports whether a wait or load target has the scheme.
func (c *config) usesScheme(scheme string) bool {
	for _, raw := range append(append([]string(nil), c.o.Wait...), c.loads...) {
		if strings.HasPrefix(strings.ToLower(raw), scheme+"://") {
			return true
		}
	}
	if c.http != nil {
		return c.loadsScheme(c.http.Targets, scheme)
	}
	return false
}

func (c *config) loadsScheme(tgts []vegeta.Target, scheme string) bool {
	for _, t := range tgts {
		if strings.HasPrefix(strings.ToLower(t.URL), scheme+"://") {
			return true
		}
	}
	return false
}

// checkReadyFile checks that the warm-up will be able to write its ready
// file: path is not a directory, and its directory exists and takes a new
// file (tried with a temporary one, as writeReadyFile does). A probe
// waiting for a file that is never written would keep the Pod unready.
func checkReadyFile(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return &check.ConfigError{Flag: "ready-file", Msg: path + " is a directory"}
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".warmup-ready-*")
	if err != nil {
		return &check.ConfigError{Flag: "ready-file", Msg: "cannot write in its directory: " + shortPathError(err)}
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

func shortPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}
