package load

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"

	"github.com/podlife/podlife/internal/check"
)

// TLSConfig builds the *tls.Config of the load from the same
// check.TLSOptions (the same flags) as the wait checks; host is the name
// to verify when o.ServerName is empty. Its errors are
// *check.ConfigError values naming the flag.
//
// TODO(lead): replace the body by check.TLSOptions.Config once
// internal/check exports it (requested in /tmp/podlife-requests.md); it
// mirrors the unexported TLSOptions.config of internal/check/http.go.
func TLSConfig(o check.TLSOptions, host string) (*tls.Config, error) {
	c := &tls.Config{
		ServerName:         o.ServerName,
		InsecureSkipVerify: o.InsecureSkipVerify, //nolint:gosec // explicit opt-in (--insecure)
		MinVersion:         tls.VersionTLS12,
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, &check.ConfigError{Flag: "ca-file", Msg: "cannot read CA file: " + shortPathError(err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &check.ConfigError{Flag: "ca-file", Msg: o.CAFile + " holds no PEM certificate"}
		}
		c.RootCAs = pool
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, &check.ConfigError{Flag: "cert-file", Msg: "cannot load client certificate and key: " + shortPathError(err)}
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

func shortPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}
