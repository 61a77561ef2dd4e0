package check

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"time"

	"github.com/podlife/podlife/internal/oneline"
)

// tcpCheck passes when a TCP connection can be established.
type tcpCheck struct{ t Target }

func (c *tcpCheck) Target() string { return c.t.String() }

func (c *tcpCheck) Check(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.t.Host)
	if err != nil {
		return unreachable(ctx, "connect", err)
	}
	return conn.Close()
}

// unixCheck passes when a connection to a unix socket can be established.
type unixCheck struct{ t Target }

func (c *unixCheck) Target() string { return c.t.String() }

func (c *unixCheck) Check(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.t.Path)
	if err != nil {
		return unreachable(ctx, "connect", err)
	}
	return conn.Close()
}

// fileCheck passes when a file exists and, with maxAge, was modified
// within maxAge. A missing file is Unreachable (nothing is there to
// answer); a stale one is Unhealthy.
type fileCheck struct {
	t      Target
	maxAge time.Duration
	now    func() time.Time
}

func (c *fileCheck) Target() string { return c.t.String() }

func (c *fileCheck) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return unreachable(ctx, "stat", err)
	}
	fi, err := os.Stat(c.t.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &Error{Kind: Unreachable, Reason: "no such file", Err: err}
		}
		return &Error{Kind: Unreachable, Reason: oneline.PathError(err), Err: err}
	}
	if c.maxAge <= 0 {
		return nil
	}
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	age := now().Sub(fi.ModTime())
	if age > c.maxAge {
		return unhealthy("modified %s ago, want within %s", age.Round(time.Millisecond), c.maxAge)
	}
	return nil
}
