package grpclog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/podlife/podlife/logging"
	"github.com/podlife/podlife/logging/grpclog"
)

func Example() {
	logger := logging.New(logging.Config{
		ServiceName: "shop",
		InstanceID:  "shop-7d9f-x2k4q",
		Output:      os.Stdout,
		Now:         func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) },
	})
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpclog.UnaryServerInterceptor(logger, grpclog.Options{})),
		grpc.ChainStreamInterceptor(grpclog.StreamServerInterceptor(logger, grpclog.Options{})),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	go srv.Serve(lis)
	defer srv.Stop()

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-request-id", "r1")
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
	fmt.Println("client got:", err)
	// Output:
	// {"level":"warn","service.name":"shop","service.instance.id":"shop-7d9f-x2k4q","timestamp":"2026-05-01T12:00:00.000000000Z","http.request.id":"r1","error.code":"NotFound","error.message":"rpc error: code = NotFound desc = unknown service","event.duration":0,"rpc.system":"grpc","rpc.service":"grpc.health.v1.Health","rpc.method":"Check","rpc.grpc.status_code":5,"message":"grpc request"}
	// client got: rpc error: code = NotFound desc = unknown service
}

// ExampleUnaryClientInterceptor shows an HTTP service calling a gRPC
// service while serving a request: the gRPC service logs the same request
// id and trace id.
func ExampleUnaryClientInterceptor() {
	// The called service, showing the ids of its access line (its parent
	// id is new on every call, and so not shown).
	logB := logging.New(logging.Config{ServiceName: "stock", Output: idPrinter{}})
	srv := grpc.NewServer(grpc.UnaryInterceptor(grpclog.UnaryServerInterceptor(logB, grpclog.Options{})))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	go srv.Serve(lis)
	defer srv.Stop()

	// The calling service: its client carries the request on.
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(grpclog.UnaryClientInterceptor()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	logA := logging.New(logging.Config{ServiceName: "shop", Output: io.Discard})
	shop := logA.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := healthpb.NewHealthClient(conn).Check(r.Context(), &healthpb.HealthCheckRequest{})
		fmt.Println("shop: stock answered, error:", err)
	}))
	req := httptest.NewRequest(http.MethodGet, "/order", nil)
	req.Header.Set("X-Request-ID", "order-42")
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	shop.ServeHTTP(httptest.NewRecorder(), req)
	// Output:
	// stock logged "grpc request": http.request.id=order-42 trace_id=4bf92f3577b34da6a3ce929d0e0e4736
	// shop: stock answered, error: <nil>
}

// idPrinter prints the message and ids of each JSON line written to it.
type idPrinter struct{}

func (idPrinter) Write(p []byte) (int, error) {
	var line map[string]any
	if err := json.Unmarshal(p, &line); err != nil {
		return 0, err
	}
	fmt.Printf("%s logged %q: %s=%v %s=%v\n", line[logging.FieldServiceName], line[logging.FieldMessage],
		logging.FieldRequestID, line[logging.FieldRequestID], logging.FieldTraceID, line[logging.FieldTraceID])
	return len(p), nil
}
