package logging

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/podlife/podlife/logging/internal/reqlog"
)

// FromContext returns the logger of the request that ctx belongs to: lines
// logged with it carry the request id, user id and trace ids. Without a
// request it returns a disabled logger, never nil.
func FromContext(ctx context.Context) *zerolog.Logger {
	s := reqlog.From(ctx)
	if s == nil {
		nop := zerolog.Nop()
		return &nop
	}
	return s.Logger()
}

// RequestID returns the id of the request that ctx belongs to, or "".
func RequestID(ctx context.Context) string { return reqlog.From(ctx).RequestID() }

// SetUserID records the requesting user's id in the request ctx belongs
// to, for the access line and for lines logged with ctx from now on.
func SetUserID(ctx context.Context, id string) { reqlog.From(ctx).SetUserID(id) }

// SetError records err as the error of the request ctx belongs to, for the
// access line: error.message is err's text and error.code the code err
// carries (see CodeOf), if any; otherwise a code set earlier is kept.
func SetError(ctx context.Context, err error) { reqlog.From(ctx).SetError(err) }

// SetErrorCode records the error code of the request ctx belongs to.
func SetErrorCode(ctx context.Context, code string) { reqlog.From(ctx).SetErrorCode(code) }

// Error is an error that carries a code for the error.code field and,
// optionally, the HTTP status a HandlerFunc answers with.
type Error struct {
	// Code is written as error.code.
	Code string
	// Status is the HTTP status HandlerFunc answers with; 0 means 500.
	Status int
	// Err is the cause, written as error.message; it may be nil.
	Err error
}

// Error returns the text of the cause, or the code if there is none.
func (e *Error) Error() string {
	if e.Err == nil {
		return e.Code
	}
	return e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code.
func (e *Error) ErrorCode() string { return e.Code }

// CodeOf returns the code of the first error in err's tree that has an
// ErrorCode() string method, such as *Error, or "".
func CodeOf(err error) string { return reqlog.CodeOf(err) }
