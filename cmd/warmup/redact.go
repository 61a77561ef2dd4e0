package main

import "strings"

// redactError hides the credentials of the URLs in err's message, keeping
// err for the exit code. warmup refuses URLs with credentials, and its
// message about them must not print them.
func redactError(err error) error {
	if err == nil {
		return nil
	}
	msg := redactURLs(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{err: err, msg: msg}
}

// redactedError is an error whose message has its credentials hidden.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactURLs replaces the userinfo of every URL in s: "user:password@"
// becomes "user:xxxxx@", as url.URL.Redacted writes it, and a user alone
// (often a token, as in https://TOKEN@host) becomes "xxxxx@". It works on
// text, so that a URL too malformed to parse is redacted too.
func redactURLs(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		i += len("://")
		b.WriteString(s[:i])
		s = s[i:]
		end := strings.IndexAny(s, "/?# \"'")
		if end < 0 {
			end = len(s)
		}
		at := strings.LastIndexByte(s[:end], '@')
		if at < 0 {
			continue
		}
		if user, _, ok := strings.Cut(s[:at], ":"); ok {
			b.WriteString(user + ":xxxxx")
		} else {
			b.WriteString("xxxxx")
		}
		s = s[at:]
	}
}
