package check

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/podlife/podlife/internal/oneline"
)

// The gRPC health check speaks grpc.health.v1.Health/Check directly over
// net/http's HTTP/2 client (h2c for grpc://, TLS with ALPN h2 for
// grpcs://). It does not link grpc-go: that keeps the probe binary small
// and its start-up fast. The two one-field messages are encoded by hand
// with encoding/binary's varints, which are protobuf's: protowire would do
// the same, but its import graph (internal/detrand) opens and reads the
// executable in an init function on every exec. A test checks the
// encoding against protowire.

const healthCheckPath = "/grpc.health.v1.Health/Check"

// servingStatus names a grpc.health.v1.HealthCheckResponse.ServingStatus.
// (A switch, not a map: a map literal would be built at init, on every
// exec of the probe.)
func servingStatus(s uint64) string {
	switch s {
	case 0:
		return "UNKNOWN"
	case 1:
		return "SERVING"
	case 2:
		return "NOT_SERVING"
	case 3:
		return "SERVICE_UNKNOWN"
	}
	return fmt.Sprintf("status %d", s)
}

// gRPC status codes, for messages.
var grpcCodes = [...]string{
	"OK", "CANCELED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

func grpcCodeName(code int) string {
	if code >= 0 && code < len(grpcCodes) {
		return grpcCodes[code]
	}
	return "code " + strconv.Itoa(code)
}

type grpcCheck struct {
	t      Target
	o      Options
	url    string
	body   []byte
	client *http.Client
}

func newGRPC(t Target, o Options) (Checker, error) {
	c := &grpcCheck{t: t, o: o}
	var p http.Protocols
	var tlsConf *tls.Config
	if t.Scheme == "grpcs" {
		host, _, _ := net.SplitHostPort(t.Host)
		conf, err := o.TLS.Config(host)
		if err != nil {
			return nil, err
		}
		conf.NextProtos = []string{"h2"}
		tlsConf = conf
		p.SetHTTP2(true)
		c.url = "https://" + t.Host + healthCheckPath
	} else {
		p.SetUnencryptedHTTP2(true)
		c.url = "http://" + t.Host + healthCheckPath
	}
	tr := transport(t, o, o.UnixSocket, tlsConf)
	tr.ForceAttemptHTTP2 = false
	tr.Protocols = &p
	c.client = &http.Client{Transport: tr}

	// HealthCheckRequest{service = 1}, in a gRPC length-prefixed frame.
	msg := healthRequest(t.Service)
	c.body = make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(c.body[1:], uint32(len(msg)))
	c.body = append(c.body, msg...)
	return c, nil
}

func (c *grpcCheck) Target() string { return c.t.String() }

func (c *grpcCheck) Check(ctx context.Context) error {
	ctx, n := withNote(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.body))
	if err != nil {
		return &Error{Kind: Unreachable, Reason: err.Error(), Err: err}
	}
	req.ContentLength = int64(len(c.body))
	c.o.applyHeaders(req)
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header.Set("User-Agent", userAgent)
	}
	if dl, ok := ctx.Deadline(); ok {
		if ms := time.Until(dl).Milliseconds(); ms > 0 && ms < 1e8 {
			req.Header.Set("Grpc-Timeout", strconv.FormatInt(ms, 10)+"m")
		}
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return failed(ctx, c.t.Scheme, &c.o, n, err, c.url)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Not a gRPC server answering (a proxy, an HTTP server).
		return unhealthy("HTTP status %d, not a gRPC answer", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/grpc") {
		return unhealthy("content-type %q, not a gRPC answer", ct)
	}
	payload, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return unreachable(ctx, "reading response", err)
	}
	if err := grpcStatus(resp); err != nil {
		return err
	}
	status, err := parseHealthResponse(payload)
	if err != nil {
		return unhealthy("%v", err)
	}
	if status != 1 {
		return unhealthy("%s", servingStatus(status))
	}
	return nil
}

// grpcStatus returns the gRPC status of a finished response as an error,
// nil for OK. Trailers-only responses carry it in the headers.
func grpcStatus(resp *http.Response) error {
	code := resp.Trailer.Get("Grpc-Status")
	msg := resp.Trailer.Get("Grpc-Message")
	if code == "" {
		code = resp.Header.Get("Grpc-Status")
		msg = resp.Header.Get("Grpc-Message")
	}
	if code == "" {
		return unhealthy("no grpc-status in the answer")
	}
	n, err := strconv.Atoi(code)
	if err != nil {
		return unhealthy("bad grpc-status %q", code)
	}
	if n == 0 {
		return nil
	}
	if m, err := url.PathUnescape(msg); err == nil {
		msg = m
	}
	reason := grpcCodeName(n)
	if msg != "" {
		reason += ": " + oneline.Clip(msg, 120)
	}
	return unhealthy("%s", reason)
}

// Protobuf wire types used here.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// healthRequest encodes HealthCheckRequest{service: 1}; the empty service
// is the empty message.
func healthRequest(service string) []byte {
	if service == "" {
		return nil
	}
	b := binary.AppendUvarint(nil, 1<<3|wireBytes)
	b = binary.AppendUvarint(b, uint64(len(service)))
	return append(b, service...)
}

// parseHealthResponse decodes one length-prefixed HealthCheckResponse and
// returns its status field (0 when absent, which is UNKNOWN). Unknown
// fields are skipped, as protobuf requires.
func parseHealthResponse(b []byte) (uint64, error) {
	if len(b) < 5 {
		return 0, fmt.Errorf("short gRPC message (%d bytes)", len(b))
	}
	if b[0] != 0 {
		return 0, fmt.Errorf("compressed gRPC message, not asked for")
	}
	n := binary.BigEndian.Uint32(b[1:5])
	if uint64(n) != uint64(len(b)-5) {
		return 0, fmt.Errorf("gRPC message length %d, got %d bytes", n, len(b)-5)
	}
	b = b[5:]
	malformed := fmt.Errorf("malformed health response")
	var status uint64
	for len(b) > 0 {
		tag, l := binary.Uvarint(b)
		if l <= 0 || tag>>3 == 0 {
			return 0, malformed
		}
		b = b[l:]
		switch num, typ := tag>>3, tag&7; typ {
		case wireVarint:
			v, l := binary.Uvarint(b)
			if l <= 0 {
				return 0, malformed
			}
			if num == 1 {
				status = v
			}
			b = b[l:]
		case wireFixed64, wireFixed32:
			size := 8
			if typ == wireFixed32 {
				size = 4
			}
			if len(b) < size {
				return 0, malformed
			}
			b = b[size:]
		case wireBytes:
			v, l := binary.Uvarint(b)
			if l <= 0 || v > uint64(len(b)-l) {
				return 0, malformed
			}
			b = b[l+int(v):]
		default: // groups (3, 4) and invalid types
			return 0, malformed
		}
	}
	return status, nil
}
