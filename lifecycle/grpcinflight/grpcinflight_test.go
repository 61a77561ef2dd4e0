package grpcinflight_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/podlife/podlife/lifecycle"
	"github.com/podlife/podlife/lifecycle/grpcinflight"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The interfaces lifecycle takes are met by the real grpc-go types.
var (
	_ lifecycle.GRPCServer   = (*grpc.Server)(nil)
	_ lifecycle.HealthServer = (*health.Server)(nil)
	_ grpcinflight.Tracker   = (*lifecycle.Lifecycle)(nil)
)

const hangBound = 10 * time.Second

// TestNeverEndingStreamDoesNotHangShutdown opens a health Watch stream, which
// never ends by itself, so that GracefulStop alone would wait forever
// (grpc-go#2448); Run must stop the server at the drain deadline.
func TestNeverEndingStreamDoesNotHangShutdown(t *testing.T) {
	t.Parallel()
	sigs := make(chan os.Signal, 1)
	l, err := lifecycle.New(lifecycle.Config{
		Signals:       sigs,
		ShutdownDelay: -1, // none: the test is about the drain
		DrainTimeout:  300 * time.Millisecond,
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpcinflight.ServerOptions(l)...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.AddGRPCServer(srv, ln)
	l.AddHealthServer(hs)

	runDone := make(chan error, 1)
	go func() { runDone <- l.Run(context.Background()) }()

	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), hangBound)
	defer cancel()

	resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check: got %v, %v; want SERVING", resp.GetStatus(), err)
	}
	if got := l.InFlight(); got != 0 {
		t.Errorf("got %d in flight after a unary call, want 0", got)
	}

	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := stream.Recv(); err != nil || msg.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch: got %v, %v; want SERVING", msg.GetStatus(), err)
	}
	if got := l.InFlight(); got != 1 {
		t.Errorf("got %d in flight with a stream open, want 1", got)
	}

	start := time.Now()
	sigs <- syscall.SIGTERM
	// Health goes NOT_SERVING at the start of draining, on the open stream too.
	if msg, err := stream.Recv(); err != nil || msg.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("Watch after SIGTERM: got %v, %v; want NOT_SERVING", msg.GetStatus(), err)
	}

	select {
	case err := <-runDone:
		// The stream was cut: Run says so.
		if err == nil || !strings.Contains(err.Error(), "drain cut") {
			t.Errorf("Run: got %v, want an error saying the drain was cut", err)
		}
	case <-time.After(hangBound):
		t.Fatalf("Run still running %v after SIGTERM with a 300ms drain timeout", hangBound)
	}
	t.Logf("shutdown took %v", time.Since(start))
	if _, err := stream.Recv(); err == nil {
		t.Error("stream still open after shutdown, want it cut")
	}
	if got := l.InFlight(); got != 0 {
		t.Errorf("got %d in flight after shutdown, want 0", got)
	}
}

type counter struct{ started, ended int }

func (c *counter) Track() func() {
	c.started++
	return func() { c.ended++ }
}

func TestInterceptorsCountEveryCall(t *testing.T) {
	t.Parallel()
	var c counter
	unary := grpcinflight.UnaryServerInterceptor(&c)
	var inside int
	_, err := unary(context.Background(), nil, &grpc.UnaryServerInfo{}, func(ctx context.Context, req any) (any, error) {
		inside = c.started - c.ended
		return nil, nil
	})
	if err != nil || inside != 1 || c.started != 1 || c.ended != 1 {
		t.Errorf("unary: got %d in flight inside, %d started, %d ended, err %v; want 1, 1, 1, nil", inside, c.started, c.ended, err)
	}
	stream := grpcinflight.StreamServerInterceptor(&c)
	err = stream(nil, nil, &grpc.StreamServerInfo{}, func(srv any, ss grpc.ServerStream) error {
		inside = c.started - c.ended
		return context.Canceled
	})
	if err != context.Canceled || inside != 1 || c.started != 2 || c.ended != 2 {
		t.Errorf("stream: got %d in flight inside, %d started, %d ended, err %v; want 1, 2, 2, context.Canceled", inside, c.started, c.ended, err)
	}
}

// TestShutdownBeforeServeIsNotAnError: a shutdown that starts at once (the
// context is already done) can stop a gRPC server before its Serve has
// begun; grpc-go then returns "the server has been stopped", which is not
// a failure of the service. Repeated, since it is a race by nature.
func TestShutdownBeforeServeIsNotAnError(t *testing.T) {
	t.Parallel()
	for i := 0; i < 20; i++ {
		l, err := lifecycle.New(lifecycle.Config{Signals: make(chan os.Signal), ShutdownDelay: -1, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l.AddGRPCServer(grpc.NewServer(), ln)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := l.Run(ctx); err != nil {
			t.Fatalf("run %d: got %v, want nil", i, err)
		}
	}
}
