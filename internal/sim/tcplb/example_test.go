package tcplb_test

import (
	"fmt"
	"io"
	"net"

	"github.com/podlife/podlife/internal/sim/tcplb"
)

// greeting returns what the server at addr sends before it hangs up, or
// "connection closed" if it sends nothing.
func greeting(addr string) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "connection closed"
	}
	defer c.Close()
	b, _ := io.ReadAll(c)
	if len(b) == 0 {
		return "connection closed"
	}
	return string(b)
}

func Example() {
	// A backend that greets and hangs up.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hello from the backend")
			c.Close()
		}
	}()

	lb, err := tcplb.New(ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer lb.Close()
	fmt.Println(greeting(lb.Addr()))

	// Out of the rotation, the backend gets no new connection; with no
	// backend left, the balancer closes its clients' connections.
	lb.Remove(ln.Addr().String())
	fmt.Println(greeting(lb.Addr()))
	// Output:
	// hello from the backend
	// connection closed
}
