package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// FuzzDecode feeds arbitrary bytes to the decoder, the linter and inject.
// Whatever the input: no panic; a rejected input is one *inputError line
// that names the file; an accepted one lints; and inject's output of it
// is itself accepted and unchanged by a second inject. The seed corpus is
// every manifest of the golden archives and of examples/kubernetes, plus
// the odd shapes below; `go test` runs it, `go test -fuzz FuzzDecode`
// explores from it.
func FuzzDecode(f *testing.F) {
	for _, pattern := range []string{"testdata/rules/*.txtar", "testdata/inject/*.txtar"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			a, err := txtar.ParseFile(file)
			if err != nil {
				f.Fatal(err)
			}
			for _, s := range a.Files {
				if strings.HasSuffix(s.Name, ".yaml") {
					f.Add(s.Data)
				}
			}
		}
	}
	examples, _ := filepath.Glob(filepath.Join("..", "..", "examples", "kubernetes", "*.yaml"))
	for _, file := range examples {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"---\n---\n",
		"a: &x [*x]\n",
		"a: &a [1,2]\nb: &b [*a,*a,*a,*a]\nc: [*b,*b,*b,*b]\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: 1}\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: x}\n<<: {data: {a: b}}\n",
		"apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: .inf}\n",
		"apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: c, image: i}]}}]\n",
		"apiVersion: v1\nkind: Pod\nspec: {containers: [{name: c, lifecycle: {preStop: {exec: {command: [/podlife/prestop, --sleep]}}}}]}\n",
		"--- x\n",
		// containers through a merge key: inject once dereferenced a nil node here
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: m}\nspec:\n  template:\n    spec:\n      <<: {containers: [{name: c, image: i:1, ports: [{containerPort: 80}]}]}\n",
		"{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"data\": {\"k\": \"!!\"}}",
		"{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\"}\n{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"spec\": {\"containers\": [{\"name\": \"c\"}]}}",
		"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selector: {a: b}, ports: [{port: 99999999999}]}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := splitDocuments("in.yaml", data)
		var objs []*object
		if err == nil {
			objs, err = decodeObjects(docs)
		}
		if err != nil {
			var ie *inputError
			if !errors.As(err, &ie) {
				t.Fatalf("got %T %v, want an *inputError", err, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "in.yaml: ") {
				t.Fatalf("got %q, want a message naming in.yaml", msg)
			}
			return
		}
		lint(objs, assumedDefaults())

		args := []string{"inject", "-f", "-", "--warmup", "http://127.0.0.1:8080/", "--ready", "http://127.0.0.1:8080/readyz"}
		var out, stderr bytes.Buffer
		if code := run(args, bytes.NewReader(data), &out, &stderr); code != exitOK {
			t.Fatalf("inject of an input that decodes: exit %d: %s", code, stderr.String())
		}
		var again bytes.Buffer
		if code := run(args, bytes.NewReader(out.Bytes()), &again, &stderr); code != exitOK {
			t.Fatalf("inject of inject's output: exit %d: %s\n%s", code, stderr.String(), out.String())
		}
		if !bytes.Equal(again.Bytes(), out.Bytes()) {
			t.Fatalf("inject is not idempotent:\n%s\nthen\n%s", out.String(), again.String())
		}
	})
}
