package lifecycle

import "time"

// Test-only views of unexported state, for the external tests.

// PhaseName returns the current phase as logs and metrics name it.
func (l *Lifecycle) PhaseName() string { return phase(l.phase.Load()).String() }

// BudgetTotal returns the worst-case shutdown and whether it fits.
func (l *Lifecycle) BudgetTotal() (time.Duration, bool) {
	b := l.budget()
	return b.Total, b.fits()
}

// EffectiveConfig returns the configuration with defaults filled in.
func (l *Lifecycle) EffectiveConfig() Config { return l.cfg }

// UnknownEnv returns the LIFECYCLE_* variables ConfigFromEnv did not know.
func (c Config) UnknownEnv() []string { return c.unknownEnv }
