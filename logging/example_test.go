package logging_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/podlife/podlife/logging"
)

// fixedClock returns a clock that always says t, for stable output.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func Example() {
	logger := logging.New(logging.Config{
		ServiceName: "shop",
		InstanceID:  "shop-7d9f-x2k4q",
		Output:      os.Stdout,
		Now:         fixedClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)),
		UserID:      func(r *http.Request) string { return r.Header.Get("X-User-ID") },
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		logging.FromContext(r.Context()).Info().Msg("saying hello")
		fmt.Fprintln(w, "hello")
	})
	mux.Handle("/fail", logging.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return &logging.Error{Code: "CART_LOCKED", Status: http.StatusConflict, Err: errors.New("cart 42 is locked")}
	}))
	handler := logger.Middleware(mux)

	for _, path := range []string{"/hello", "/fail"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("X-Request-ID", "r1")
		req.Header.Set("X-User-ID", "u1")
		handler.ServeHTTP(httptest.NewRecorder(), req)
	}
	// Output:
	// {"level":"info","service.name":"shop","service.instance.id":"shop-7d9f-x2k4q","timestamp":"2026-05-01T12:00:00.000000000Z","http.request.id":"r1","user.id":"u1","message":"saying hello"}
	// {"level":"info","service.name":"shop","service.instance.id":"shop-7d9f-x2k4q","timestamp":"2026-05-01T12:00:00.000000000Z","http.request.id":"r1","user.id":"u1","event.duration":0,"http.request.method":"GET","url.path":"/hello","http.response.status_code":200,"message":"http request"}
	// {"level":"warn","service.name":"shop","service.instance.id":"shop-7d9f-x2k4q","timestamp":"2026-05-01T12:00:00.000000000Z","http.request.id":"r1","user.id":"u1","error.code":"CART_LOCKED","error.message":"cart 42 is locked","event.duration":0,"http.request.method":"GET","url.path":"/fail","http.response.status_code":409,"message":"http request"}
}

func ExampleLogger_Slog() {
	logger := logging.New(logging.Config{
		ServiceName: "shop",
		Output:      os.Stdout,
		Now:         fixedClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)),
	})
	log := logger.Slog()
	log.Info("cache warmed", "entries", 128, "took", 1500*time.Millisecond)
	// Output:
	// {"level":"info","service.name":"shop","entries":128,"took":1500,"timestamp":"2026-05-01T12:00:00.000000000Z","message":"cache warmed"}
}

// ExampleTransport shows service A, serving a request, calling service B:
// B gets A's request id and a traceparent with A's trace id and a parent
// id of its own.
func ExampleTransport() {
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tp := r.Header.Get("Traceparent")
		fmt.Println("B got request id:", r.Header.Get("X-Request-ID"))
		fmt.Println("B got trace id:  ", tp[3:35])
		fmt.Println("B got parent id: ", tp[36:52] != "00f067aa0ba902b7", "(new)")
	}))
	defer b.Close()

	logger := logging.New(logging.Config{Output: io.Discard})
	client := &http.Client{Transport: logging.Transport{}}
	a := logger.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, b.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
	}))

	req := httptest.NewRequest(http.MethodGet, "/order", nil)
	req.Header.Set("X-Request-ID", "order-42")
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	a.ServeHTTP(httptest.NewRecorder(), req)
	// Output:
	// B got request id: order-42
	// B got trace id:   4bf92f3577b34da6a3ce929d0e0e4736
	// B got parent id:  true (new)
}
