package grpclog_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/podlife/podlife/logging"
	"github.com/podlife/podlife/logging/grpclog"
	"github.com/podlife/podlife/logging/internal/reqlog"
)

// serviceB is the called service: HTTP with logging.Middleware, gRPC with
// the server interceptors, each logging through its own Logger (one
// process per service in real life: two Loggers, two outputs).
type serviceB struct {
	httpURL  string
	grpcAddr string
	out      *lineBuffer
}

func startServiceB(t *testing.T) *serviceB {
	t.Helper()
	var out lineBuffer
	l := logging.New(logging.Config{Output: &out, ServiceName: "b"})
	mux := http.NewServeMux()
	mux.HandleFunc("/stock", func(w http.ResponseWriter, r *http.Request) {
		logging.FromContext(r.Context()).Info().Msg("b: stock")
		io.WriteString(w, "7\n")
	})
	hs := httptest.NewServer(l.Middleware(mux))
	t.Cleanup(hs.Close)

	gs := grpc.NewServer(
		grpc.UnaryInterceptor(grpclog.UnaryServerInterceptor(l, grpclog.Options{})),
		grpc.StreamInterceptor(grpclog.StreamServerInterceptor(l, grpclog.Options{})),
	)
	healthpb.RegisterHealthServer(gs, healthServer{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return &serviceB{httpURL: hs.URL, grpcAddr: lis.Addr().String(), out: &out}
}

// startServiceA starts the calling service: an HTTP server whose handler
// calls B over HTTP (through logging.Transport) and over gRPC (through the
// client interceptors), unary and streaming. It returns A's URL and log.
func startServiceA(t *testing.T, b *serviceB) (string, *lineBuffer) {
	t.Helper()
	var out lineBuffer
	l := logging.New(logging.Config{Output: &out, ServiceName: "a"})
	client := &http.Client{Transport: logging.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	conn, err := grpc.NewClient(b.grpcAddr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(grpclog.UnaryClientInterceptor()),
		grpc.WithStreamInterceptor(grpclog.StreamClientInterceptor()),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	health := healthpb.NewHealthClient(conn)
	mux := http.NewServeMux()
	mux.Handle("/order", logging.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		logging.FromContext(ctx).Info().Msg("a: order")
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.httpURL+"/stock", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			return err
		}
		stream, err := health.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		for {
			if _, err := stream.Recv(); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
		}
		io.WriteString(w, "ok\n")
		return nil
	}))
	srv := httptest.NewServer(l.Middleware(mux))
	t.Cleanup(srv.Close)
	return srv.URL, &out
}

// TestPropagation runs two real services, A calling B over HTTP and over
// gRPC while serving a request, and checks that every line both services
// log for it carries the same request id and trace id, and that each call
// from A to B had a parent id of its own.
func TestPropagation(t *testing.T) {
	t.Parallel()
	const trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tests := []struct {
		name        string
		requestID   string // sent to A; "" lets A generate one
		traceParent string // sent to A
		wantTrace   string
	}{
		{"id and trace", "order-42", "00-" + trace + "-" + span + "-01", trace},
		{"generated id, no trace", "", "", ""},
		{"id, future traceparent version", "order-43", "01-" + trace + "-" + span + "-01-later", trace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := startServiceB(t)
			aURL, aOut := startServiceA(t, b)
			req, _ := http.NewRequest(http.MethodGet, aURL+"/order", nil)
			if tt.requestID != "" {
				req.Header.Set("X-Request-ID", tt.requestID)
			}
			if tt.traceParent != "" {
				req.Header.Set("Traceparent", tt.traceParent)
				req.Header.Set("Tracestate", "vendor=abc")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("A answered %d, want 200; A's log: %v", resp.StatusCode, aOut.lines(t))
			}
			wantID := tt.requestID
			if wantID == "" {
				wantID = resp.Header.Get("X-Request-ID")
				if _, ok := reqlog.SanitizeRequestID(wantID); !ok {
					t.Fatalf("A answered with X-Request-ID %q, want a generated id", wantID)
				}
			}
			aLines, bLines := aOut.lines(t), b.out.lines(t)
			// A: its handler's line and its access line. B: for each of the
			// HTTP, unary and streaming calls, its handler's line and its
			// access line.
			if len(aLines) != 2 || len(bLines) != 6 {
				t.Fatalf("got %d lines from A and %d from B, want 2 and 6:\nA: %v\nB: %v", len(aLines), len(bLines), aLines, bLines)
			}
			spans := map[string]string{}
			for i, line := range append(aLines, bLines...) {
				who := fmt.Sprintf("%v line %d (%v)", line["service.name"], i, line["message"])
				if got := line[logging.FieldRequestID]; got != wantID {
					t.Errorf("%s: got request id %v, want %s", who, got, wantID)
				}
				gotTrace, _ := line[logging.FieldTraceID].(string)
				if gotTrace != tt.wantTrace {
					t.Errorf("%s: got trace id %q, want %q", who, gotTrace, tt.wantTrace)
				}
				if tt.wantTrace == "" {
					continue
				}
				gotSpan, _ := line[logging.FieldSpanID].(string)
				if line["service.name"] == "a" {
					if gotSpan != span {
						t.Errorf("%s: got span id %q, want the caller's %s", who, gotSpan, span)
					}
					continue
				}
				if gotSpan == span || len(gotSpan) != 16 {
					t.Errorf("%s: got span id %q, want a new parent id from A", who, gotSpan)
				}
				if line["message"] == "http request" || line["message"] == "grpc request" {
					call := fmt.Sprint(line["message"], line[logging.FieldRPCMethod])
					spans[call] = gotSpan
				}
			}
			if tt.wantTrace != "" {
				seen := map[string]bool{}
				for _, s := range spans {
					seen[s] = true
				}
				if len(spans) != 3 || len(seen) != 3 {
					t.Errorf("got parent ids %v for B's calls, want three, all different", spans)
				}
			}
		})
	}
}

// TestClientInterceptorKeepsCallerMetadata checks that metadata the caller
// set itself wins, and that a call outside any request gets nothing.
func TestClientInterceptorKeepsCallerMetadata(t *testing.T) {
	t.Parallel()
	b := startServiceB(t)
	conn, err := grpc.NewClient(b.grpcAddr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(grpclog.UnaryClientInterceptor()),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	health := healthpb.NewHealthClient(conn)

	// Outside any request: B generates its own id, and no trace appears.
	if _, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	// Inside a request of A's, with the caller's own x-request-id.
	l := logging.New(logging.Config{Output: io.Discard})
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := metadata.AppendToOutgoingContext(r.Context(), grpclog.RequestIDKey, "callers-own")
		if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Error(err)
		}
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Request-ID", "from-a")
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)

	var access []map[string]any
	for _, line := range b.out.lines(t) {
		if line["message"] == "grpc request" {
			access = append(access, line)
		}
	}
	if len(access) != 2 {
		t.Fatalf("got %d access lines from B, want 2: %v", len(access), access)
	}
	if id, _ := access[0][logging.FieldRequestID].(string); len(id) != 32 || access[0][logging.FieldTraceID] != nil {
		t.Errorf("call outside a request: got id %q, trace %v, want a generated id and no trace", id, access[0][logging.FieldTraceID])
	}
	if got := access[1][logging.FieldRequestID]; got != "callers-own" {
		t.Errorf("got request id %v, want the caller's own callers-own", got)
	}
	if got := access[1][logging.FieldTraceID]; got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("got trace id %v, want A's", got)
	}
}
