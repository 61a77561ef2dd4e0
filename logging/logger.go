package logging

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/podlife/podlife/internal/envconf"
	"github.com/rs/zerolog"
)

// Format selects how lines are written.
type Format string

// The formats a Logger can write.
const (
	// FormatJSON writes one JSON object per line; it is the default.
	FormatJSON Format = "json"
	// FormatConsole writes human-readable lines for people at a terminal.
	FormatConsole Format = "console"
)

// Config configures a Logger. Its zero value logs at info level, as JSON,
// to os.Stdout, with no service name and no instance id.
type Config struct {
	// Level is the minimum level written: trace, debug, info (default),
	// warn, error or disabled.
	Level string
	// Format is FormatJSON (default) or FormatConsole.
	Format Format
	// ServiceName is written as service.name on every line when set.
	ServiceName string
	// InstanceID is written as service.instance.id on every line when set.
	InstanceID string
	// Output receives the lines; nil means os.Stdout. It must be safe for
	// concurrent use, as os.Stdout is: each line is one Write call.
	Output io.Writer
	// Now is the clock; nil means time.Now. Tests set it to get stable output.
	Now func() time.Time
	// UserID returns the id of the user who sent an HTTP request, written as
	// user.id by Middleware; nil writes none unless a handler calls SetUserID.
	// It runs before the handler, on the incoming request.
	UserID func(r *http.Request) string
}

// envConfig is the part of Config that comes from the environment.
type envConfig struct {
	Level       string `env:"LOG_LEVEL" envDefault:"info"`
	Format      string `env:"LOG_FORMAT" envDefault:"json"`
	ServiceName string `env:"SERVICE_NAME"`
	OTelService string `env:"OTEL_SERVICE_NAME"`
	PodName     string `env:"POD_NAME"`
}

// ConfigFromEnv returns a Config read through getenv (nil means
// os.Getenv), as lifecycle.ConfigFromEnv does: LOG_LEVEL, LOG_FORMAT,
// SERVICE_NAME (or else OTEL_SERVICE_NAME), and the instance id from
// POD_NAME or else the host name. Fields it does not cover are left zero
// for the caller to fill in.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	return configFromEnv(getenv, os.Hostname)
}

func configFromEnv(getenv func(string) string, hostname func() (string, error)) (Config, error) {
	var ec envConfig
	if err := envconf.Parse(&ec, "", getenv); err != nil {
		return Config{}, fmt.Errorf("logging: %w", err)
	}
	cfg := Config{
		Level:       ec.Level,
		Format:      Format(strings.ToLower(ec.Format)),
		ServiceName: ec.ServiceName,
		InstanceID:  ec.PodName,
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = ec.OTelService
	}
	if cfg.InstanceID == "" {
		if h, err := hostname(); err == nil {
			cfg.InstanceID = h
		}
	}
	if _, err := parseLevel(cfg.Level); err != nil {
		return Config{}, fmt.Errorf("logging: LOG_LEVEL: %w", err)
	}
	if _, err := parseFormat(cfg.Format); err != nil {
		return Config{}, fmt.Errorf("logging: LOG_FORMAT: %w", err)
	}
	return cfg, nil
}

func parseLevel(s string) (zerolog.Level, error) {
	switch strings.ToLower(s) {
	case "trace":
		return zerolog.TraceLevel, nil
	case "debug":
		return zerolog.DebugLevel, nil
	case "", "info":
		return zerolog.InfoLevel, nil
	case "warn", "warning":
		return zerolog.WarnLevel, nil
	case "error":
		return zerolog.ErrorLevel, nil
	case "disabled", "off", "none":
		return zerolog.Disabled, nil
	}
	return zerolog.NoLevel, fmt.Errorf("unknown level %q (want trace, debug, info, warn, error or disabled)", s)
}

func parseFormat(f Format) (Format, error) {
	switch f {
	case "", FormatJSON:
		return FormatJSON, nil
	case FormatConsole:
		return FormatConsole, nil
	}
	return "", fmt.Errorf("unknown format %q (want json or console)", string(f))
}

// Logger writes structured lines with the package's field names. It is safe
// for concurrent use. Create one with New.
type Logger struct {
	zl     zerolog.Logger // with fieldsHook, for everyone's lines
	access zerolog.Logger // without it, for access lines, which write their own
	now    func() time.Time
	userID func(*http.Request) string
}

// New returns a Logger configured by cfg. It fails on an unknown level or
// format. It changes no global state.
func New(cfg Config) (*Logger, error) {
	lvl, err := parseLevel(cfg.Level)
	if err != nil {
		return nil, fmt.Errorf("logging: %w", err)
	}
	format, err := parseFormat(cfg.Format)
	if err != nil {
		return nil, fmt.Errorf("logging: %w", err)
	}
	out := cfg.Output
	if out == nil {
		out = os.Stdout
	}
	if format == FormatConsole {
		out = consoleWriter(out)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	c := zerolog.New(out).Level(lvl).With()
	if cfg.ServiceName != "" {
		c = c.Str(FieldServiceName, cfg.ServiceName)
	}
	if cfg.InstanceID != "" {
		c = c.Str(FieldInstanceID, cfg.InstanceID)
	}
	access := c.Logger()
	return &Logger{
		zl:     access.Hook(fieldsHook{now: now}),
		access: access,
		now:    now,
		userID: cfg.UserID,
	}, nil
}

// Zerolog returns the underlying zerolog.Logger, which carries the service
// fields and writes the timestamp. Use its With method to add fields; its
// UpdateContext is not safe for concurrent use.
func (l *Logger) Zerolog() zerolog.Logger { return l.zl }

// Slog returns a log/slog Logger that writes through l, with the same
// fields. Records logged with a context from Middleware (InfoContext and the
// like) carry the request id, user id and trace ids.
func (l *Logger) Slog() *slog.Logger { return slog.New(l.SlogHandler()) }

// fieldsHook writes the timestamp and, for events carrying a request's
// context, the request fields. It runs just before the message is written.
type fieldsHook struct {
	now func() time.Time
}

// Run implements zerolog.Hook.
func (h fieldsHook) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	appendTimestamp(e, h.now())
	if s := ScopeFrom(e.GetCtx()); s != nil {
		s.appendContextFields(e)
	}
}

// appendTimestamp writes t under FieldTimestamp in TimeLayout.
func appendTimestamp(e *zerolog.Event, t time.Time) {
	var buf [32]byte
	e.RawJSON(FieldTimestamp, appendTime(buf[:0], t))
}

// appendTime appends t, quoted, in TimeLayout. It does by hand what
// t.UTC().AppendFormat(b, TimeLayout) does, in a fifth of the time, for a
// function that runs on every line. Years outside 0–9999 fall back to it.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		b = append(b, '"')
		return append(t.AppendFormat(b, TimeLayout), '"')
	}
	hour, minute, sec := t.Clock()
	b = append(b, '"')
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond(), 9)
	return append(b, 'Z', '"')
}

// appendDigits appends v, which is not negative, in exactly width digits.
func appendDigits(b []byte, v, width int) []byte {
	for i := width - 1; i >= 0; i-- {
		b = append(b, 0)
	}
	for i := len(b) - 1; i >= len(b)-width; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// consoleWriter renders lines for people: zerolog's ConsoleWriter, told
// where our timestamp is without touching zerolog's globals.
func consoleWriter(out io.Writer) io.Writer {
	return zerolog.ConsoleWriter{
		Out:     out,
		NoColor: !isTerminal(out),
		FormatPrepare: func(evt map[string]any) error {
			if v, ok := evt[FieldTimestamp]; ok {
				delete(evt, FieldTimestamp)
				evt[zerolog.TimestampFieldName] = v
			}
			return nil
		},
		FormatTimestamp: func(v any) string {
			s, _ := v.(string)
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return s
			}
			return t.UTC().Format("15:04:05.000")
		},
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
