// Package logging writes structured JSON logs to stdout with the fields log
// pipelines already understand, on top of github.com/rs/zerolog.
//
// Every line carries a timestamp, a level and a message; lines logged while
// serving a request also carry the request id, the user id and, when the
// caller sent a W3C traceparent header, the trace and span ids. The access
// line that Middleware writes once per request adds the path, the method,
// the status code, the duration and the error code. Field names are flat
// dotted keys taken from the OpenTelemetry semantic conventions and the
// Elastic Common Schema where the two agree; they are the Field constants.
//
// A Logger never changes zerolog's package-level settings: it writes the
// "timestamp" key itself and relies on zerolog's default "level" and
// "message" keys, so two Loggers with different settings coexist in one
// process. An application that changes zerolog.LevelFieldName or
// zerolog.MessageFieldName changes those two keys for every Logger.
//
// Calls to the next service carry the request on: Transport (HTTP) and
// grpclog's client interceptors send the request id and, when the request
// came with one, the W3C trace context (same trace id, a new parent id per
// call), so that both services' lines share http.request.id and trace_id.
//
// gRPC interceptors live in the subpackage grpclog, so HTTP-only programs
// never link grpc-go.
package logging

// Field names written by this package. They are flat keys: "url.path" is
// one key containing a dot, not an object.
const (
	// FieldTimestamp is the time the line was written: RFC 3339, UTC, with
	// nine fractional digits (see TimeLayout).
	FieldTimestamp = "timestamp"
	// FieldLevel is the severity: trace, debug, info, warn, error.
	FieldLevel = "level"
	// FieldMessage is the human-readable message.
	FieldMessage = "message"
	// FieldErrorCode is a stable, machine-readable error code.
	FieldErrorCode = "error.code"
	// FieldErrorMessage is the text of the error.
	FieldErrorMessage = "error.message"
	// FieldErrorStack is the stack of a recovered panic (ECS error.stack_trace).
	FieldErrorStack = "error.stack_trace"
	// FieldServiceName is the logical name of the service.
	FieldServiceName = "service.name"
	// FieldInstanceID is the identifier of this instance: the Pod name.
	FieldInstanceID = "service.instance.id"
	// FieldRequestID is the request id, from X-Request-ID or generated.
	FieldRequestID = "http.request.id"
	// FieldUserID is the id of the user who sent the request.
	FieldUserID = "user.id"
	// FieldURLPath is the path of the request URL, without the query.
	FieldURLPath = "url.path"
	// FieldMethod is the HTTP request method.
	FieldMethod = "http.request.method"
	// FieldStatusCode is the HTTP response status code.
	FieldStatusCode = "http.response.status_code"
	// FieldDuration is how long the request took, in nanoseconds (ECS
	// event.duration).
	FieldDuration = "event.duration"
	// FieldTraceID is the trace id of a W3C traceparent header.
	FieldTraceID = "trace_id"
	// FieldSpanID is the parent span id of a W3C traceparent header: the
	// span of the caller.
	FieldSpanID = "span_id"
	// FieldRPCSystem is "grpc" on the access lines of the grpclog interceptors.
	FieldRPCSystem = "rpc.system"
	// FieldRPCService is the full name of the gRPC service, e.g. "grpc.health.v1.Health".
	FieldRPCService = "rpc.service"
	// FieldRPCMethod is the name of the gRPC method, e.g. "Check".
	FieldRPCMethod = "rpc.method"
	// FieldGRPCStatusCode is the numeric gRPC status code.
	FieldGRPCStatusCode = "rpc.grpc.status_code"
)

// Codes set by this package itself.
const (
	// CodePanic is the error code of a request whose handler panicked.
	CodePanic = "panic"
)

// TimeLayout is the layout of the timestamp field, applied to UTC times.
// The fraction has a fixed width so that timestamps sort as strings.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"
