package logging

import (
	"fmt"
	"strings"

	"github.com/rs/zerolog"
)

// Level is the minimum severity a Logger writes. Its zero value is
// LevelInfo. A value below LevelTrace writes everything and one above
// LevelDisabled nothing, so every Level is usable as it is.
type Level int8

// The levels, from the most verbose.
const (
	// LevelTrace writes every line.
	LevelTrace Level = -2
	// LevelDebug writes debug lines and above.
	LevelDebug Level = -1
	// LevelInfo writes info lines and above; it is the zero value.
	LevelInfo Level = 0
	// LevelWarn writes warnings and errors, such as the access lines of
	// requests that failed.
	LevelWarn Level = 1
	// LevelError writes errors only.
	LevelError Level = 2
	// LevelDisabled writes nothing.
	LevelDisabled Level = 3
)

// ParseLevel returns the Level named s, in any case: trace, debug, info,
// warn (or warning), error, or disabled (or off, none). An empty s is
// LevelInfo.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(s) {
	case "trace":
		return LevelTrace, nil
	case "debug":
		return LevelDebug, nil
	case "", "info":
		return LevelInfo, nil
	case "warn", "warning":
		return LevelWarn, nil
	case "error":
		return LevelError, nil
	case "disabled", "off", "none":
		return LevelDisabled, nil
	}
	return LevelInfo, fmt.Errorf("unknown level %q (want trace, debug, info, warn, error or disabled)", s)
}

// String returns the level's name, as ParseLevel reads it.
func (l Level) String() string {
	switch l.clamp() {
	case LevelTrace:
		return "trace"
	case LevelDebug:
		return "debug"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	case LevelDisabled:
		return "disabled"
	}
	return "info"
}

// MarshalText implements encoding.TextMarshaler with String.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseLevel, so
// that a Level can be a flag (flag.TextVar) or read from the environment.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

func (l Level) clamp() Level {
	return max(LevelTrace, min(l, LevelDisabled))
}

func (l Level) zerolog() zerolog.Level {
	switch l.clamp() {
	case LevelTrace:
		return zerolog.TraceLevel
	case LevelDebug:
		return zerolog.DebugLevel
	case LevelWarn:
		return zerolog.WarnLevel
	case LevelError:
		return zerolog.ErrorLevel
	case LevelDisabled:
		return zerolog.Disabled
	}
	return zerolog.InfoLevel
}

// Format selects how lines are written. Its zero value is FormatJSON; any
// value other than FormatConsole writes JSON.
type Format uint8

// The formats a Logger can write.
const (
	// FormatJSON writes one JSON object per line; it is the zero value.
	FormatJSON Format = iota
	// FormatConsole writes human-readable lines for people at a terminal.
	FormatConsole
)

// ParseFormat returns the Format named s, in any case: json or console.
// An empty s is FormatJSON.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "", "json":
		return FormatJSON, nil
	case "console":
		return FormatConsole, nil
	}
	return FormatJSON, fmt.Errorf("unknown format %q (want json or console)", s)
}

// String returns the format's name, as ParseFormat reads it.
func (f Format) String() string {
	if f == FormatConsole {
		return "console"
	}
	return "json"
}

// MarshalText implements encoding.TextMarshaler with String.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseFormat.
func (f *Format) UnmarshalText(b []byte) error {
	v, err := ParseFormat(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}
