// Package oneline shapes text for the one line a podlife binary prints per
// failure: kubelet puts probe and hook output into the Pod's events, where
// a stray newline reads as a second failure and one long message can push
// the others out of the 10 KiB it keeps.
package oneline

import (
	"errors"
	"os"
	"strings"
	"unicode/utf8"
)

// Clip returns s on one line of at most max bytes (max ≤ 0: no bound):
// control characters (newlines included) become spaces, invalid UTF-8
// becomes U+FFFD, and a longer text is cut between runes and ends with
// "…".
func Clip(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if max <= 0 || len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// PathError returns err's text without the operation an *os.PathError
// names ("open", "stat"): "ca.pem: no such file or directory" rather than
// "open ca.pem: no such file or directory", for messages that already say
// what was being done.
func PathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}
