package load

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestErrorKind(t *testing.T) {
	t.Parallel()
	tests := []struct{ text, want string }{
		{`Get "http://127.0.0.1:8080/": dial tcp 127.0.0.1:8080: connect: connection refused`, ErrRefused},
		{`rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`, ErrRefused},
		{`Get "http://127.0.0.1:8080/": read tcp 127.0.0.1:54321->127.0.0.1:8080: i/o timeout`, ErrTimeout},
		{`Get "http://127.0.0.1:8080/": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`, ErrTimeout},
		{`Get "https://127.0.0.1:8443/": net/http: TLS handshake timeout`, ErrTimeout},
		{`Get "http://127.0.0.1:8080/": read tcp 127.0.0.1:54321->127.0.0.1:8080: read: connection reset by peer`, ErrReset},
		{`Post "http://127.0.0.1:8080/": write tcp 127.0.0.1:54321->127.0.0.1:8080: write: broken pipe`, ErrReset},
		{`Get "http://127.0.0.1:8080/": EOF`, ErrEOF},
		{`Get "http://127.0.0.1:8080/": unexpected EOF`, ErrEOF},
		{`Get "https://127.0.0.1:8443/": tls: failed to verify certificate: x509: certificate signed by unknown authority`, ErrTLS},
		{`Get "https://127.0.0.1:8443/": remote error: tls: bad certificate`, ErrTLS},
		{`Get "http://app:8080/": dial tcp: lookup app on 10.96.0.10:53: no such host`, ErrDNS},
		{`Get "http://app:8080/": dial tcp: lookup app on 10.96.0.10:53: read udp 10.0.0.5:40000->10.96.0.10:53: i/o timeout`, ErrDNS},
		{`Get "http://127.0.0.1:8080/": read tcp 127.0.0.1:54321->127.0.0.1:8080: something new`, `Get "http://127.0.0.1:8080/": read tcp 127.0.0.1:8080: something new`},
		{`no status`, `no status`},
		// An error the kinds do not know keeps no secret of its URL: it
		// goes into warmup's summary line.
		{`Get "http://127.0.0.1:9090/x?token=s3cret": net/http: HTTP/1.x transport connection broken: malformed HTTP response`, `Get "http://127.0.0.1:9090/x?token=xxxxx": net/http: HTTP/1.x transport connection broken: malformed HTTP response`},
	}
	for _, tt := range tests {
		if got := errorKind(tt.text); got != tt.want {
			t.Errorf("errorKind(%q): got %q, want %q", tt.text, got, tt.want)
		}
	}
}

// TestRecorderErrorKinds records timeouts from 40 connections, each with
// its own local port: they are one kind, not 16 and "other".
func TestRecorderErrorKinds(t *testing.T) {
	t.Parallel()
	r := newRecorder(Warm{}, false)
	for i := range 40 {
		r.record(time.Now(), time.Second, -1, false, fmt.Sprintf(`Get "http://127.0.0.1:8080/": read tcp 127.0.0.1:%d->127.0.0.1:8080: i/o timeout`, 40000+i))
	}
	for i := range 3 {
		r.record(time.Now(), time.Second, -1, false, fmt.Sprintf(`Get "http://127.0.0.1:8080/": read tcp 127.0.0.1:%d->127.0.0.1:8080: odd`, 40000+i))
	}
	if got, want := fmt.Sprint(r.summary(StopRequests, time.Second).Errors), `map[Get "http://127.0.0.1:8080/": read tcp 127.0.0.1:8080: odd:3 timeout:40]`; got != want {
		t.Errorf("errors: got %s, want %s", got, want)
	}
}

func TestShortenKeepsRunes(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", maxErrorLen) // 2 bytes each
	got := errorKind(long)
	if !strings.HasSuffix(got, "…") || len(got) > maxErrorLen+len("…") || !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) {
		t.Errorf("got %q (%d bytes), want at most %d bytes of whole runes and …", got, len(got), maxErrorLen+len("…"))
	}
	for _, r := range strings.TrimSuffix(got, "…") {
		if r != 'é' {
			t.Fatalf("got a broken rune %q in %q", r, got)
		}
	}
}
