package wait_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/wait"
)

// For polls the checks until each passes; OnChange hears of each change
// of state, not of each attempt.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	t, err := check.ParseTarget("tcp://" + ln.Addr().String())
	if err != nil {
		panic(err)
	}
	checks, err := wait.Checks([]check.Target{t}, check.Options{})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = wait.For(ctx, checks, wait.Options{OnChange: func(_ string, err error) {
		fmt.Println("ready:", err == nil)
	}})
	fmt.Println("wait:", err)
	// Output:
	// ready: true
	// wait: <nil>
}
