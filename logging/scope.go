package logging

import (
	"context"
	"errors"
	"sync"
	"time"
	"unsafe"

	"github.com/rs/zerolog"
)

// RequestInfo describes an incoming request to StartRequest. Its values are
// raw, as they arrived: StartRequest checks them.
type RequestInfo struct {
	// RequestID is the caller's request id (the X-Request-ID header). If it
	// is not a sane id (see SanitizeRequestID), a new one is generated.
	RequestID string
	// TraceParent is the W3C traceparent header, if any.
	TraceParent string
	// UserID is the id of the requesting user, if already known.
	UserID string
}

// Scope is the log state of one request: its ids, and the user and error
// that handlers record for the access line. Middleware and the grpclog
// interceptors create one per request; code serving other transports can
// use StartRequest. Its methods are safe for concurrent use, and do nothing
// on a nil Scope.
type Scope struct {
	ctx       scopeCtx
	l         *Logger
	start     time.Time
	requestID string
	traceID   string
	spanID    string
	idBuf     [requestIDLen]byte
	rw        *responseWriter // set by Middleware only

	once sync.Once
	zl   *zerolog.Logger // made by FromContext when first asked

	mu      sync.Mutex
	userID  string
	errCode string
	err     error
}

// scopeCtx is the context.Context of a Scope. It lives inside the Scope so
// that a request costs one allocation, not two.
type scopeCtx struct {
	context.Context
	s *Scope
}

type scopeKey struct{}

// Value implements context.Context.
func (c *scopeCtx) Value(key any) any {
	if key == (scopeKey{}) {
		return c.s
	}
	return c.Context.Value(key)
}

// StartRequest begins the Scope of a request and returns a context that
// carries it, for the handler. The caller ends the request by sending the
// event of Scope.Finish.
func (l *Logger) StartRequest(ctx context.Context, info RequestInfo) (context.Context, *Scope) {
	s := &Scope{}
	s.init(l, ctx, info)
	return &s.ctx, s
}

func (s *Scope) init(l *Logger, ctx context.Context, info RequestInfo) {
	s.l = l
	s.start = l.now()
	s.ctx = scopeCtx{Context: ctx, s: s}
	if id, ok := SanitizeRequestID(info.RequestID); ok {
		s.requestID = id
	} else {
		fillRequestID(&s.idBuf)
		// idBuf is never written again, and lives as long as the string.
		s.requestID = unsafe.String(&s.idBuf[0], len(s.idBuf))
	}
	s.traceID, s.spanID, _ = ParseTraceParent(info.TraceParent)
	s.userID = clip(info.UserID)
}

// ScopeFrom returns the Scope that ctx carries, or nil.
func ScopeFrom(ctx context.Context) *Scope {
	if ctx == nil {
		return nil
	}
	s, _ := ctx.Value(scopeKey{}).(*Scope)
	return s
}

// RequestID returns the request's id, or "" for a nil Scope.
func (s *Scope) RequestID() string {
	if s == nil {
		return ""
	}
	return s.requestID
}

// SetUserID records the id of the requesting user, for the access line and
// for lines logged with the request's context from now on.
func (s *Scope) SetUserID(id string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.userID = clip(id)
	s.mu.Unlock()
}

// SetError records the request's error for the access line: error.message
// is err's text and error.code the code err carries (see CodeOf), if any;
// otherwise a code set earlier is kept.
func (s *Scope) SetError(err error) {
	if s == nil || err == nil {
		return
	}
	code := CodeOf(err)
	s.mu.Lock()
	s.err = err
	if code != "" {
		s.errCode = code
	}
	s.mu.Unlock()
}

// SetErrorCode records the request's error code for the access line.
func (s *Scope) SetErrorCode(code string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.errCode = code
	s.mu.Unlock()
}

// Outcome returns the error code and error recorded so far.
func (s *Scope) Outcome() (code string, err error) {
	if s == nil {
		return "", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errCode, s.err
}

// Finish returns the access line of the request at level lvl, carrying
// the request id, user id, trace ids, error code and message and the
// duration since StartRequest, or nil if lvl is disabled. The caller adds
// the fields of its transport and sends it with Msg.
func (s *Scope) Finish(lvl zerolog.Level) *zerolog.Event {
	if s == nil {
		return nil
	}
	e := s.l.access.WithLevel(lvl)
	if e == nil {
		return nil
	}
	end := s.l.now()
	appendTimestamp(e, end)
	e.Str(FieldRequestID, s.requestID)
	s.mu.Lock()
	if s.userID != "" {
		e.Str(FieldUserID, s.userID)
	}
	if s.errCode != "" {
		e.Str(FieldErrorCode, s.errCode)
	}
	if s.err != nil {
		e.Str(FieldErrorMessage, s.err.Error())
	}
	s.mu.Unlock()
	if s.traceID != "" {
		e.Str(FieldTraceID, s.traceID).Str(FieldSpanID, s.spanID)
	}
	return e.Int64(FieldDuration, int64(end.Sub(s.start)))
}

// appendContextFields writes the request's fields on a line logged with its
// context (not on the access line, which writes them itself).
func (s *Scope) appendContextFields(e *zerolog.Event) {
	e.Str(FieldRequestID, s.requestID)
	s.mu.Lock()
	if s.userID != "" {
		e.Str(FieldUserID, s.userID)
	}
	s.mu.Unlock()
	if s.traceID != "" {
		e.Str(FieldTraceID, s.traceID).Str(FieldSpanID, s.spanID)
	}
}

// FromContext returns the logger of the request that ctx belongs to: lines
// logged with it carry the request id, user id and trace ids. Without a
// request it returns a disabled logger, never nil.
func FromContext(ctx context.Context) *zerolog.Logger {
	s := ScopeFrom(ctx)
	if s == nil {
		nop := zerolog.Nop()
		return &nop
	}
	s.once.Do(func() {
		zl := s.l.zl.With().Ctx(&s.ctx).Logger()
		s.zl = &zl
	})
	return s.zl
}

// SetUserID records the requesting user's id in the request ctx belongs to.
func SetUserID(ctx context.Context, id string) { ScopeFrom(ctx).SetUserID(id) }

// SetError records err as the error of the request ctx belongs to; see
// Scope.SetError.
func SetError(ctx context.Context, err error) { ScopeFrom(ctx).SetError(err) }

// SetErrorCode records the error code of the request ctx belongs to.
func SetErrorCode(ctx context.Context, code string) { ScopeFrom(ctx).SetErrorCode(code) }

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
func CodeOf(err error) string {
	var c interface{ ErrorCode() string }
	if errors.As(err, &c) {
		return c.ErrorCode()
	}
	return ""
}

// maxFieldLen bounds the values taken from a request (path, user id), so
// that a hostile request cannot make a huge line.
const maxFieldLen = 1024

func clip(s string) string {
	if len(s) > maxFieldLen {
		return s[:maxFieldLen]
	}
	return s
}
