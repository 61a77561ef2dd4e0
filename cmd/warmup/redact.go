package main

import "github.com/podlife/podlife/internal/check"

// redactError hides the secrets of the URLs in err's message with
// check.Redact, keeping err for the exit code. Messages built from a
// check.Target are redacted already; this is the last guard for any
// other text that quotes a URL.
func redactError(err error) error {
	if err == nil {
		return nil
	}
	msg := check.Redact(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{err: err, msg: msg}
}

// redactedError is an error whose message has its secrets hidden.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
