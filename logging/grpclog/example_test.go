package grpclog_test

import (
	"context"
	"fmt"
	"net"
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
	logger, _ := logging.New(logging.Config{
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
