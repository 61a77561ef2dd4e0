package logging_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// lineBuffer is an io.Writer safe for concurrent use that collects lines.
type lineBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines parses every line as a JSON object, failing the test on any line
// that is not exactly one.
func (b *lineBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(l))
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", l, err)
		}
		if dec.More() {
			t.Fatalf("line %q holds more than one JSON value", l)
		}
		out = append(out, m)
	}
	return out
}

// only returns the single line of b, failing unless there is exactly one.
func (b *lineBuffer) only(t *testing.T) map[string]any {
	t.Helper()
	ls := b.lines(t)
	if len(ls) != 1 {
		t.Fatalf("got %d lines, want 1:\n%s", len(ls), b.String())
	}
	return ls[0]
}

// countKeys returns how often each key occurs in the raw JSON line, which
// a map would hide: zerolog does not de-duplicate keys.
func countKeys(t *testing.T, line string) map[string]int {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		n[k.(string)]++
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return n
}
