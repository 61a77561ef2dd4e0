package logging_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/podlife/podlife/logging"
)

// fixedClock returns a clock that always says t, for stable output.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func Example() {
	logger, err := logging.New(logging.Config{
		ServiceName: "shop",
		InstanceID:  "shop-7d9f-x2k4q",
		Output:      os.Stdout,
		Now:         fixedClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)),
		UserID:      func(r *http.Request) string { return r.Header.Get("X-User-ID") },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
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
	logger, _ := logging.New(logging.Config{
		ServiceName: "shop",
		Output:      os.Stdout,
		Now:         fixedClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)),
	})
	log := logger.Slog()
	log.Info("cache warmed", "entries", 128, "took", 1500*time.Millisecond)
	// Output:
	// {"level":"info","service.name":"shop","entries":128,"took":1500,"timestamp":"2026-05-01T12:00:00.000000000Z","message":"cache warmed"}
}
