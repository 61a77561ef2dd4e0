package users_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/podlife/podlife/internal/sim/users"
)

func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	}))
	defer srv.Close()

	// Two keep-alive clients and one that opens a new connection for each
	// request, until 100 requests have been sent.
	l, err := users.Start(context.Background(), users.Config{
		URL: srv.URL + "/hello", Clients: 2, NewConns: 1, MaxRequests: 100,
	})
	if err != nil {
		panic(err)
	}
	<-l.Done()
	fmt.Println(l.Stop())
	// Output:
	// 100 served, 0 failed
}
