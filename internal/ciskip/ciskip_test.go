package ciskip

import (
	"strings"
	"testing"
)

// recorder is a testing.TB that records Skipf and Fatalf instead of
// stopping the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Skipf(format string, a ...any)  { r.skipped = format }
func (r *recorder) Fatalf(format string, a ...any) { r.failed = format }

func TestSkipf(t *testing.T) {
	for _, tt := range []struct {
		ci       string
		wantFail bool
	}{{"", false}, {"false", false}, {"true", true}, {"1", true}, {"TRUE", true}} {
		t.Setenv("CI", tt.ci)
		r := &recorder{TB: t}
		Skipf(r, "no Docker engine: %v", "docker info failed")
		if gotFail := r.failed != ""; gotFail != tt.wantFail || gotFail == (r.skipped != "") {
			t.Errorf("CI=%q: got failed %q, skipped %q, want failed=%v and skipped=%v", tt.ci, r.failed, r.skipped, tt.wantFail, !tt.wantFail)
		}
		if msg := r.failed + r.skipped; !strings.Contains(msg, "CI=true") {
			t.Errorf("CI=%q: got %q, want it to say what CI=true does", tt.ci, msg)
		}
	}
}
