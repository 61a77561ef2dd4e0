package logging

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/podlife/podlife/internal/envconf"
	"github.com/podlife/podlife/logging/internal/reqlog"
)

// Config configures a Logger. Its zero value logs at info level, as JSON,
// to os.Stdout, with no service name and no instance id.
type Config struct {
	// Level is the minimum level written; the zero value is LevelInfo.
	Level Level
	// Format is FormatJSON (the zero value) or FormatConsole.
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
	Level       Level  `env:"LOG_LEVEL" envDefault:"info"`
	Format      Format `env:"LOG_FORMAT" envDefault:"json"`
	ServiceName string `env:"SERVICE_NAME"`
	OTelService string `env:"OTEL_SERVICE_NAME"`
	PodName     string `env:"POD_NAME"`
}

// ConfigFromEnv returns a Config read through getenv (nil means
// os.Getenv), as lifecycle.ConfigFromEnv does: LOG_LEVEL (see ParseLevel),
// LOG_FORMAT (see ParseFormat), SERVICE_NAME (or else OTEL_SERVICE_NAME),
// and the instance id from POD_NAME or else the host name. It fails on a
// level or format it does not know, naming the variable. Fields it does
// not cover are left zero for the caller to fill in.
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
		Format:      ec.Format,
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
	return cfg, nil
}

// Logger writes structured lines with the package's field names. It is safe
// for concurrent use. Create one with New.
type Logger struct {
	core   *reqlog.Core
	userID func(*http.Request) string
	link   // lets the grpclog interceptors reach core; exports nothing
}

// link is reqlog.Link under an unexported name (see reqlog.Link).
type link = reqlog.Link

// New returns a Logger configured by cfg. It changes no global state.
func New(cfg Config) *Logger {
	out := cfg.Output
	if out == nil {
		out = os.Stdout
	}
	if cfg.Format == FormatConsole {
		out = consoleWriter(out)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	c := zerolog.New(out).Level(cfg.Level.zerolog()).With()
	if cfg.ServiceName != "" {
		c = c.Str(FieldServiceName, cfg.ServiceName)
	}
	if cfg.InstanceID != "" {
		c = c.Str(FieldInstanceID, cfg.InstanceID)
	}
	core := reqlog.NewCore(c.Logger(), now)
	return &Logger{core: core, userID: cfg.UserID, link: reqlog.NewLink(core)}
}

// Zerolog returns the underlying zerolog.Logger, which carries the service
// fields and writes the timestamp. Use its With method to add fields; its
// UpdateContext is not safe for concurrent use.
func (l *Logger) Zerolog() zerolog.Logger { return l.core.Logger }

// Slog returns a log/slog Logger that writes through l, with the same
// fields. Records logged with a context from Middleware (InfoContext and the
// like) carry the request id, user id and trace ids.
func (l *Logger) Slog() *slog.Logger { return slog.New(l.SlogHandler()) }

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
