package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/podlife/podlife/internal/check"
)

// Formats of a targets file: vegeta's.
const (
	// FormatHTTP is vegeta's http format: "METHOD URL" lines, each
	// followed by header lines and an optional "@file" body.
	FormatHTTP = "http"
	// FormatJSON is vegeta's json format: a JSON object per line, with
	// method, url, header and a base64 body.
	FormatJSON = "json"
)

// targets are the parsed targets of a load: HTTP requests or gRPC
// methods, never both.
type targets struct {
	grpc    bool
	tls     bool            // some target is https:// or grpcs://
	http    []vegeta.Target // the HTTP requests, round-robin
	methods []grpcTarget    // the gRPC methods, round-robin
	names   []string        // for logs
	schemes []check.Scheme  // each once
}

// grpcTarget is one gRPC method to call.
type grpcTarget struct {
	raw    string // the target as given, for messages
	addr   string // host:port
	method string // "package.Service/Method"
}

// parseTargets parses o's targets once, reads its body and targets
// files, and checks that the options fit the protocol. Every decision
// reads the parsed, lower-cased scheme.
func parseTargets(o Options) (*targets, error) {
	ts := &targets{}
	var httpURLs []check.Target
	var grpcScheme check.Scheme // of the first gRPC target
	for _, raw := range o.Targets {
		t, err := check.ParseTarget(raw)
		if err != nil {
			return nil, err
		}
		switch {
		case t.Scheme.HTTP():
			httpURLs = append(httpURLs, t)
		case t.Scheme.GRPC():
			svc, mth, ok := strings.Cut(t.Service, "/")
			if !ok || svc == "" || mth == "" || strings.Contains(mth, "/") {
				return nil, &check.ConfigError{Target: raw, Msg: "a gRPC load target names a method; want grpc://host:port/package.Service/Method"}
			}
			if grpcScheme == "" {
				grpcScheme = t.Scheme
			} else if t.Scheme != grpcScheme {
				return nil, &check.ConfigError{Target: raw, Msg: "mixes grpc:// and grpcs://; load them in separate runs"}
			}
			ts.methods = append(ts.methods, grpcTarget{raw: raw, addr: t.Host, method: t.Service})
		default:
			return nil, &check.ConfigError{Target: raw, Msg: "the load takes http(s):// and grpc(s):// targets; " + string(t.Scheme) + ":// targets go with --wait"}
		}
		ts.add(t.Scheme, t.String())
	}
	ts.grpc = len(ts.methods) > 0
	if ts.grpc && (len(httpURLs) > 0 || o.TargetsFile != "") {
		return nil, &check.ConfigError{Msg: "HTTP and gRPC load in one run is not supported; load them in separate runs"}
	}
	if ts.grpc {
		return ts, grpcOptions(o)
	}
	if err := ts.readHTTP(o, httpURLs); err != nil {
		return nil, err
	}
	return ts, nil
}

// add notes a target's scheme and name.
func (ts *targets) add(scheme check.Scheme, name string) {
	if !slices.Contains(ts.schemes, scheme) {
		ts.schemes = append(ts.schemes, scheme)
	}
	ts.tls = ts.tls || scheme.TLS()
	ts.names = append(ts.names, name)
}

// grpcOptions rejects the HTTP options in a gRPC load.
func grpcOptions(o Options) error {
	switch {
	case o.Method != "":
		return &check.ConfigError{Flag: "method", Msg: "is for HTTP load; a gRPC target names its method"}
	case len(o.Body) > 0 || o.BodyFile != "":
		return &check.ConfigError{Flag: "body", Msg: "is for HTTP load; the gRPC request is --data"}
	case o.H2C:
		return &check.ConfigError{Flag: "h2c", Msg: "is for HTTP load; grpc:// is always HTTP/2"}
	case len(o.Data) > 0 && !json.Valid(o.Data):
		return &check.ConfigError{Flag: "data", Msg: "not valid JSON"}
	}
	return nil
}

// readHTTP builds the HTTP requests: one per URL, then those of the
// targets file.
func (ts *targets) readHTTP(o Options, urls []check.Target) error {
	switch {
	case len(o.Data) > 0:
		return &check.ConfigError{Flag: "data", Msg: "is the gRPC request; the body of HTTP load is --body or --body-file"}
	case len(o.Protosets) > 0:
		return &check.ConfigError{Flag: "protoset", Msg: "needs a grpc:// load target"}
	case len(o.Body) > 0 && o.BodyFile != "":
		return &check.ConfigError{Msg: "--body and --body-file: give one of them"}
	case o.TargetsFormat != "" && o.TargetsFormat != FormatHTTP && o.TargetsFormat != FormatJSON:
		return &check.ConfigError{Flag: "targets-format", Msg: fmt.Sprintf("%q is not a format; want %s or %s", o.TargetsFormat, FormatHTTP, FormatJSON)}
	}
	body := o.Body
	if o.BodyFile != "" {
		b, err := readFile("body-file", o.BodyFile)
		if err != nil {
			return err
		}
		body = b
	}
	header := o.Header.Clone()
	if o.Authority != "" {
		if header == nil {
			header = http.Header{}
		}
		header.Set("Host", o.Authority)
	}
	method := o.Method
	if method == "" {
		method = http.MethodGet
	}
	for _, t := range urls {
		ts.http = append(ts.http, vegeta.Target{Method: method, URL: t.Raw, Body: body, Header: header})
	}
	if o.TargetsFile != "" {
		if err := ts.readFile(o.TargetsFile, o.TargetsFormat, body, header); err != nil {
			return err
		}
	}
	if o.H2C && !slices.Contains(ts.schemes, check.SchemeHTTP) {
		return &check.ConfigError{Flag: "h2c", Msg: "needs an http:// load target (https:// negotiates HTTP/2 by itself)"}
	}
	return nil
}

// readFile reads a targets file in format; body and header are the
// defaults of its requests.
func (ts *targets) readFile(path, format string, body []byte, header http.Header) error {
	b, err := readFile("targets", path)
	if err != nil {
		return err
	}
	var tr vegeta.Targeter
	if format == FormatJSON {
		tr = vegeta.NewJSONTargeter(bytes.NewReader(b), body, header)
	} else {
		tr = vegeta.NewHTTPTargeter(bytes.NewReader(b), body, header)
	}
	more, err := vegeta.ReadAllTargets(tr)
	if err != nil {
		if errors.Is(err, vegeta.ErrNoTargets) {
			return &check.ConfigError{Flag: "targets", Msg: path + " holds no target"}
		}
		return &check.ConfigError{Flag: "targets", Msg: fmt.Sprintf("%s: %v", path, err)}
	}
	for _, t := range more {
		pt, err := check.ParseTarget(t.URL)
		if err != nil {
			return &check.ConfigError{Flag: "targets", Msg: fmt.Sprintf("%s: %v", path, err)}
		}
		if !pt.Scheme.HTTP() {
			return &check.ConfigError{Flag: "targets", Msg: fmt.Sprintf("%s: %s: want an http:// or https:// URL", path, t.URL)}
		}
		ts.add(pt.Scheme, t.Method+" "+pt.String())
	}
	ts.http = append(ts.http, more...)
	return nil
}

// readFile reads the file of option flag; its error names the flag and
// the file ("--targets: open t.txt: no such file or directory").
func readFile(flag, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &check.ConfigError{Flag: flag, Msg: err.Error()}
	}
	return b, nil
}
