// Package reqlog is the request state that package logging and its
// subpackage grpclog share, and do not promise to users: the Scope of one
// request (its ids, user and error), how a Scope starts from what came
// over the wire and ends in an access line, and what it passes on to the
// next service.
//
// A *logging.Logger carries a *Core; CoreOf reaches it without logging
// exporting anything for the purpose (see Link).
package reqlog

import (
	"context"
	"errors"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/rs/zerolog"
)

// The keys this package writes. Package logging documents them as its
// Field constants, and a test there checks that the two agree.
const (
	KeyTimestamp    = "timestamp"
	KeyRequestID    = "http.request.id"
	KeyUserID       = "user.id"
	KeyErrorCode    = "error.code"
	KeyErrorMessage = "error.message"
	KeyTraceID      = "trace_id"
	KeySpanID       = "span_id"
	KeyDuration     = "event.duration"
)

// Core is what a Scope needs of its Logger.
type Core struct {
	// Logger writes everyone's lines: it adds the timestamp and, for events
	// carrying a request's context, the request's fields.
	Logger zerolog.Logger
	// Access writes access lines, which write those fields themselves.
	Access zerolog.Logger
	// Now is the clock.
	Now func() time.Time
}

// NewCore returns the Core of lines written through base, which carries
// the Logger's own fields (service name and the like), on the clock now.
func NewCore(base zerolog.Logger, now func() time.Time) *Core {
	return &Core{Logger: base.Hook(fieldsHook{now: now}), Access: base, Now: now}
}

// Link connects a *logging.Logger to its Core. Logger embeds it under an
// unexported name, which promotes its unexported method into Logger's
// method set: CoreOf, in this package, can call that method; no other
// package can, and go doc shows nothing.
type Link struct{ c *Core }

// NewLink returns the Link to c.
func NewLink(c *Core) Link { return Link{c: c} }

func (l Link) reqlogCore() *Core { return l.c }

// CoreOf returns the Core of x, a value that embeds a Link, or nil.
func CoreOf(x any) *Core {
	if h, ok := x.(interface{ reqlogCore() *Core }); ok {
		return h.reqlogCore()
	}
	return nil
}

// fieldsHook writes the timestamp and, for events carrying a request's
// context, the request fields. It runs just before the message is written.
type fieldsHook struct {
	now func() time.Time
}

// Run implements zerolog.Hook.
func (h fieldsHook) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	AppendTimestamp(e, h.now())
	if s := From(e.GetCtx()); s != nil {
		s.appendContextFields(e)
	}
}

// Info describes an incoming request to Start. Its values are raw, as
// they arrived: Start checks them.
type Info struct {
	// RequestID is the caller's request id (the X-Request-ID header). If it
	// is not a sane id (see SanitizeRequestID), a new one is generated.
	RequestID string
	// TraceParent is the W3C traceparent header, if any.
	TraceParent string
	// TraceState is the W3C tracestate header, if any. It is kept, to pass
	// on, only with a valid TraceParent.
	TraceState string
	// UserID is the id of the requesting user, if already known.
	UserID string
}

// Scope is the log state of one request: its ids, and the user and error
// that handlers record for the access line. Its methods are safe for
// concurrent use, and do nothing on a nil Scope.
type Scope struct {
	ctx        scopeCtx
	c          *Core
	start      time.Time
	requestID  string
	traceID    string
	spanID     string
	traceFlags string
	traceState string
	idBuf      [requestIDLen]byte

	// Response is the HTTP response writer of the request, set by
	// logging's middleware; HandlerFunc asks it whether a response started.
	Response interface{ Wrote() bool }

	once sync.Once
	zl   *zerolog.Logger // made by Logger when first asked

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

// Start begins the Scope of a request and returns a context that carries
// it, for the handler. The caller ends the request by sending the event of
// Finish.
func Start(c *Core, ctx context.Context, info Info) (context.Context, *Scope) {
	s := &Scope{}
	s.Init(c, ctx, info)
	return s.Context(), s
}

// Init is Start for a Scope the caller allocated, as part of a larger
// struct. The request's context is then s.Context().
func (s *Scope) Init(c *Core, ctx context.Context, info Info) {
	s.c = c
	s.start = c.Now()
	s.ctx = scopeCtx{Context: ctx, s: s}
	if id, ok := SanitizeRequestID(info.RequestID); ok {
		s.requestID = id
	} else {
		fillHex(s.idBuf[:])
		// idBuf is never written again, and lives as long as the string.
		s.requestID = unsafe.String(&s.idBuf[0], len(s.idBuf))
	}
	var ok bool
	if s.traceID, s.spanID, s.traceFlags, ok = ParseTraceParent(info.TraceParent); ok {
		s.traceState = SanitizeTraceState(info.TraceState)
	}
	s.userID = Clip(info.UserID)
}

// Context returns the request's context, which carries s.
func (s *Scope) Context() context.Context { return &s.ctx }

// From returns the Scope that ctx carries, or nil.
func From(ctx context.Context) *Scope {
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

// Outgoing returns what a call made while serving the request passes on to
// the next service: the request id, and, when the request came with a
// valid traceparent, a traceparent with the same trace id and a new parent
// id (one per call, as the W3C spec has it for a new span) and the
// tracestate that came with it. A nil Scope passes on nothing.
func (s *Scope) Outgoing() (requestID, traceParent, traceState string) {
	if s == nil {
		return "", "", ""
	}
	if s.traceID != "" {
		traceParent = TraceParent(s.traceID, newSpanID(), s.traceFlags)
		traceState = s.traceState
	}
	return s.requestID, traceParent, traceState
}

// SetUserID records the id of the requesting user, for the access line and
// for lines logged with the request's context from now on.
func (s *Scope) SetUserID(id string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.userID = Clip(id)
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
// duration since Start, or nil if lvl is disabled. The caller adds the
// fields of its transport and sends it with Msg.
func (s *Scope) Finish(lvl zerolog.Level) *zerolog.Event {
	if s == nil {
		return nil
	}
	e := s.c.Access.WithLevel(lvl)
	if e == nil {
		return nil
	}
	end := s.c.Now()
	AppendTimestamp(e, end)
	e.Str(KeyRequestID, s.requestID)
	s.mu.Lock()
	if s.userID != "" {
		e.Str(KeyUserID, s.userID)
	}
	if s.errCode != "" {
		e.Str(KeyErrorCode, s.errCode)
	}
	if s.err != nil {
		e.Str(KeyErrorMessage, s.err.Error())
	}
	s.mu.Unlock()
	if s.traceID != "" {
		e.Str(KeyTraceID, s.traceID).Str(KeySpanID, s.spanID)
	}
	return e.Int64(KeyDuration, int64(end.Sub(s.start)))
}

// appendContextFields writes the request's fields on a line logged with its
// context (not on the access line, which writes them itself).
func (s *Scope) appendContextFields(e *zerolog.Event) {
	e.Str(KeyRequestID, s.requestID)
	s.mu.Lock()
	if s.userID != "" {
		e.Str(KeyUserID, s.userID)
	}
	s.mu.Unlock()
	if s.traceID != "" {
		e.Str(KeyTraceID, s.traceID).Str(KeySpanID, s.spanID)
	}
}

// Logger returns the request's logger: lines logged with it carry the
// request's fields. It is made once, when first asked.
func (s *Scope) Logger() *zerolog.Logger {
	s.once.Do(func() {
		zl := s.c.Logger.With().Ctx(&s.ctx).Logger()
		s.zl = &zl
	})
	return s.zl
}

// maxFieldLen bounds the values taken from a request (path, user id), so
// that a hostile request cannot make a huge line.
const maxFieldLen = 1024

// Clip cuts s to the longest value taken from a request, 1024 bytes, on
// a rune boundary: a cut never splits a multi-byte character.
func Clip(s string) string {
	if len(s) <= maxFieldLen {
		return s
	}
	n := maxFieldLen
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// CodeOf returns the code of the first error in err's tree that has an
// ErrorCode() string method, or "".
func CodeOf(err error) string {
	var c interface{ ErrorCode() string }
	if errors.As(err, &c) {
		return c.ErrorCode()
	}
	return ""
}
