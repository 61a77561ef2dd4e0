package grpclog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/podlife/podlife/logging"
	"github.com/podlife/podlife/logging/grpclog"
	"github.com/podlife/podlife/logging/internal/reqlog"
)

type lineBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lineBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	raw := b.buf.String()
	b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(raw), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// healthServer is a grpc.health.v1.Health service whose behaviour depends
// on the service name asked about.
type healthServer struct {
	healthpb.UnimplementedHealthServer
}

func (healthServer) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	logging.FromContext(ctx).Info().Msg("checking")
	switch req.Service {
	case "panic":
		var m map[string]int
		m["boom"]++
	case "missing":
		return nil, status.Error(codes.NotFound, "unknown service")
	case "coded":
		return nil, &logging.Error{Code: "DB_DOWN", Err: status.Error(codes.Unavailable, "database down")}
	case "set":
		logging.SetErrorCode(ctx, "SOFT_FAIL")
		logging.SetUserID(ctx, "u-set")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (healthServer) Watch(req *healthpb.HealthCheckRequest, ss grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	logging.FromContext(ss.Context()).Info().Msg("watching")
	if req.Service == "panic" {
		panic("stream exploded")
	}
	for range 2 {
		if err := ss.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err != nil {
			return err
		}
	}
	return nil
}

// serve starts a real grpc-go server on loopback with the interceptors and
// returns a client connected to it, and the server's log lines.
func serve(t *testing.T) (healthpb.HealthClient, *lineBuffer) {
	t.Helper()
	var out lineBuffer
	l := logging.New(logging.Config{Output: &out, ServiceName: "svc", InstanceID: "pod-1"})
	opts := grpclog.Options{UserID: func(ctx context.Context) string {
		md, _ := metadata.FromIncomingContext(ctx)
		if v := md.Get("x-user-id"); len(v) > 0 {
			return v[0]
		}
		return ""
	}}
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(grpclog.UnaryServerInterceptor(l, opts)),
		grpc.StreamInterceptor(grpclog.StreamServerInterceptor(l, opts)),
	)
	healthpb.RegisterHealthServer(srv, healthServer{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn), &out
}

func TestUnary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		service   string
		requestID string
		wantCode  codes.Code
		wantErr   any
		wantLevel string
		wantUser  string
	}{
		{"", "r1", codes.OK, nil, "info", "u1"},
		{"missing", "r2", codes.NotFound, "NotFound", "warn", "u1"},
		{"coded", "r3", codes.Unavailable, "DB_DOWN", "error", "u1"},
		{"set", "r4", codes.OK, "SOFT_FAIL", "info", "u-set"},
		{"panic", "r5", codes.Internal, logging.CodePanic, "error", "u1"},
		{"", "bad\"id", codes.OK, nil, "info", "u1"},
	}
	for _, tt := range tests {
		t.Run(tt.service+"/"+tt.requestID, func(t *testing.T) {
			t.Parallel()
			client, out := serve(t)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			ctx = metadata.AppendToOutgoingContext(ctx,
				"x-request-id", tt.requestID, "x-user-id", "u1",
				"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
				"authorization", "Bearer top-secret")
			var header metadata.MD
			_, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: tt.service}, grpc.Header(&header))
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("got code %v (%v), want %v", got, err, tt.wantCode)
			}
			wantID := tt.requestID
			if _, ok := reqlog.SanitizeRequestID(wantID); !ok {
				wantID = ""
			}
			gotID := ""
			if v := header.Get(grpclog.RequestIDKey); len(v) == 1 {
				gotID = v[0]
			}
			if wantID != "" && gotID != wantID || wantID == "" && len(gotID) != 32 {
				t.Errorf("got response request id %q, want %q (or a generated one)", gotID, wantID)
			}
			lines := out.lines(t)
			if len(lines) != 2 {
				t.Fatalf("got %d lines, want the handler's and the access line: %v", len(lines), lines)
			}
			if lines[0]["http.request.id"] != gotID || lines[0]["message"] != "checking" {
				t.Errorf("got handler line %v, want it to carry the request id %q", lines[0], gotID)
			}
			line := lines[1]
			want := map[string]any{
				"message":              "grpc request",
				"level":                tt.wantLevel,
				"rpc.system":           "grpc",
				"rpc.service":          "grpc.health.v1.Health",
				"rpc.method":           "Check",
				"rpc.grpc.status_code": float64(tt.wantCode),
				"http.request.id":      gotID,
				"user.id":              tt.wantUser,
				"trace_id":             "4bf92f3577b34da6a3ce929d0e0e4736",
				"service.instance.id":  "pod-1",
				"error.code":           tt.wantErr,
			}
			for k, v := range want {
				if line[k] != v {
					t.Errorf("got %s=%v, want %v", k, line[k], v)
				}
			}
			_, hasStack := line["error.stack_trace"]
			if hasStack != (tt.service == "panic") {
				t.Errorf("got stack %v, want one only after a panic", hasStack)
			}
			for _, l := range lines {
				for k, v := range l {
					if s, _ := v.(string); strings.Contains(s, "top-secret") {
						t.Errorf("got authorization metadata in %s", k)
					}
				}
			}
		})
	}
}

func TestStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		service  string
		wantCode codes.Code
		wantMsgs int
	}{
		{"", codes.OK, 2},
		{"panic", codes.Internal, 0},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			t.Parallel()
			client, out := serve(t)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", "s1")
			st, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: tt.service})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				if _, err = st.Recv(); err != nil {
					break
				}
				n++
			}
			if got := status.Code(err); n != tt.wantMsgs || (tt.wantCode != codes.OK && got != tt.wantCode) {
				t.Fatalf("got %d messages and %v, want %d and %v", n, err, tt.wantMsgs, tt.wantCode)
			}
			if h, _ := st.Header(); len(h.Get(grpclog.RequestIDKey)) != 1 || h.Get(grpclog.RequestIDKey)[0] != "s1" {
				t.Errorf("got header %v, want x-request-id s1", h)
			}
			lines := out.lines(t)
			if len(lines) != 2 || lines[0]["http.request.id"] != "s1" {
				t.Fatalf("got %v, want the handler's line with the request id and the access line", lines)
			}
			line := lines[1]
			if line["rpc.method"] != "Watch" || line["rpc.grpc.status_code"] != float64(tt.wantCode) || line["http.request.id"] != "s1" {
				t.Errorf("got %v, want method Watch, code %d, request id s1", line, tt.wantCode)
			}
		})
	}
}
