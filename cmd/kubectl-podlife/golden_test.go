package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

var update = flag.Bool("update", false, "rewrite the golden sections of testdata/rules and testdata/inject")

// section returns the file name of an archive, or fails.
func section(t *testing.T, a *txtar.Archive, name string) []byte {
	t.Helper()
	for _, f := range a.Files {
		if f.Name == name {
			return f.Data
		}
	}
	t.Fatalf("no section %q", name)
	return nil
}

// setSection replaces or adds a section.
func setSection(a *txtar.Archive, name string, data []byte) {
	for i, f := range a.Files {
		if f.Name == name {
			a.Files[i].Data = data
			return
		}
	}
	a.Files = append(a.Files, txtar.File{Name: name, Data: data})
}

// lintText lints the documents of one in-memory file and returns the text
// output and the findings.
func lintText(t *testing.T, name string, data []byte) (string, []finding) {
	t.Helper()
	docs, err := splitDocuments(name, data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	objs, err := decodeObjects(docs)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	fs := lint(objs, assumedDefaults())
	var buf bytes.Buffer
	if err := writeText(&buf, fs, len(objs)); err != nil {
		t.Fatal(err)
	}
	return buf.String(), fs
}

// TestRules runs each rule's archive in testdata/rules: trips.yaml must
// give exactly the findings of trips.golden, one of them of the rule the
// archive is named after; passes.yaml, the same manifest with the mistake
// fixed, must give no finding at all.
func TestRules(t *testing.T) {
	t.Parallel()
	for _, r := range rules() {
		t.Run(r.ID, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join("testdata", "rules", r.ID+".txtar")
			a, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatalf("every rule has a golden archive: %v", err)
			}
			got, fs := lintText(t, "trips.yaml", section(t, a, "trips.yaml"))
			tripped := false
			for _, f := range fs {
				tripped = tripped || f.Rule == r.ID
			}
			if !tripped {
				t.Errorf("trips.yaml: got findings\n%s\nwant one of rule %s", got, r.ID)
			}
			if *update {
				setSection(a, "trips.golden", []byte(got))
				if err := os.WriteFile(file, txtar.Format(a), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if want := string(section(t, a, "trips.golden")); got != want {
				t.Errorf("trips.yaml: got\n%s\nwant\n%s", got, want)
			}
			if got, fs := lintText(t, "passes.yaml", section(t, a, "passes.yaml")); len(fs) > 0 {
				t.Errorf("passes.yaml: got\n%s\nwant no finding", got)
			}
		})
	}
}

// TestInject runs each archive in testdata/inject: the flags in "args"
// applied to in.yaml must print out.yaml; inject of out.yaml must print it
// unchanged (idempotent); and lint of out.yaml must find nothing.
func TestInject(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "inject", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no inject archives: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			a, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			args := append([]string{"inject", "-f", "-"}, strings.Fields(string(section(t, a, "args")))...)
			inject := func(in []byte) string {
				t.Helper()
				var stdout, stderr bytes.Buffer
				if code := run(args, bytes.NewReader(in), &stdout, &stderr); code != exitOK {
					t.Fatalf("kubectl-podlife %s: exit %d, want 0: %s", strings.Join(args, " "), code, stderr.String())
				}
				return stdout.String()
			}
			got := inject(section(t, a, "in.yaml"))
			if *update {
				setSection(a, "out.yaml", []byte(got))
				if err := os.WriteFile(file, txtar.Format(a), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if want := string(section(t, a, "out.yaml")); got != want {
				t.Errorf("inject: got\n%s\nwant\n%s", got, want)
			}
			if again := inject([]byte(got)); again != got {
				t.Errorf("inject of its own output changed it:\n%s\nwant\n%s", again, got)
			}
			if text, fs := lintText(t, "out.yaml", []byte(got)); len(fs) > 0 {
				t.Errorf("lint of inject's output: got\n%s\nwant no finding", text)
			}
			if _, fs := lintText(t, "in.yaml", section(t, a, "in.yaml")); len(fs) == 0 {
				t.Errorf("lint of in.yaml found nothing: the case shows no change inject makes")
			}
		})
	}
}

// TestExamplesClean lints examples/kubernetes as a user would.
func TestExamplesClean(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run([]string{"lint", "-R", "-f", filepath.Join("..", "..", "examples", "kubernetes")}, nil, &stdout, &stderr)
	if code != exitOK {
		t.Errorf("lint -R -f examples/kubernetes: exit %d, want 0\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "no findings in ") {
		t.Errorf("got %q, want no findings", stdout.String())
	}
}

// TestDocsListEveryRule keeps docs/kubectl-podlife.md's table in step
// with the rules.
func TestDocsListEveryRule(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "kubectl-podlife.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules() {
		if !bytes.Contains(doc, []byte("| `"+r.ID+"` | "+r.Severity+" |")) {
			t.Errorf("docs/kubectl-podlife.md has no table row for %s (%s)", r.ID, r.Severity)
		}
	}
}

// TestReadmeExamples keeps the examples of lint and inject in README.md
// and docs/kubectl-podlife.md true: they are what the binary prints for
// testdata/readme/web.yaml (the lint output whole, in both; every line the
// README's inject excerpt adds, in its order).
func TestReadmeExamples(t *testing.T) {
	read := func(rel string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("..", "..", rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	readme, docs := read("README.md"), read(filepath.Join("docs", "kubectl-podlife.md"))
	// block is the fenced block of page that starts with the line
	// "$ "+cmd, without that line.
	block := func(page, name, cmd string) []string {
		t.Helper()
		_, rest, ok := strings.Cut(page, "\n$ "+cmd+"\n")
		if !ok {
			t.Fatalf("%s has no example of %q", name, cmd)
		}
		body, _, _ := strings.Cut(rest, "\n```")
		return strings.Split(body, "\n")
	}
	t.Chdir(filepath.Join("testdata", "readme"))

	const lintCmd = "kubectl podlife lint -f web.yaml"
	var stdout, stderr bytes.Buffer
	if code := run(strings.Fields(lintCmd)[2:], nil, &stdout, &stderr); code != exitFindings {
		t.Errorf("%s: exit %d, want %d\n%s", lintCmd, code, exitFindings, stderr.String())
	}
	for name, page := range map[string]string{"README.md": readme, "docs/kubectl-podlife.md": docs} {
		if got, want := strings.TrimSuffix(stdout.String(), "\n"), strings.Join(block(page, name, lintCmd), "\n"); got != want {
			t.Errorf("%s prints\n%s\n%s shows\n%s", lintCmd, got, name, want)
		}
	}

	const injectCmd = "kubectl podlife inject -f web.yaml --notify http://127.0.0.1:8080/drainz --warmup http://127.0.0.1:8080/"
	stdout.Reset()
	if code := run(strings.Fields(injectCmd)[2:], nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("%s: exit %d\n%s", injectCmd, code, stderr.String())
	}
	out := strings.Split(stdout.String(), "\n")
	i := 0
	for _, l := range block(readme, "README.md", injectCmd) {
		added, ok := strings.CutPrefix(l, "+")
		if !ok {
			t.Fatalf("README inject example: line %q is not an added line", l)
		}
		for i < len(out) && out[i] != added {
			i++
		}
		if i == len(out) {
			t.Fatalf("README inject example: %q is not in the output (in this order):\n%s", added, stdout.String())
		}
	}
}

// TestImageFor: a release gets its own image tag; anything else the one
// `make image` builds.
func TestImageFor(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ version, want string }{
		{"v1.2.0", "ghcr.io/podlife/podlife:v1.2.0"},
		{"v1.3.0-rc.1", "ghcr.io/podlife/podlife:v1.3.0-rc.1"},
		{"v0.0.0-20261129033000-abcdef123456", "ghcr.io/podlife/podlife:dev"},
		{"v1.2.4-0.20261129033000-abcdef123456", "ghcr.io/podlife/podlife:dev"},
		{"devel", "ghcr.io/podlife/podlife:dev"},
		{"c8aa9e4-dirty", "ghcr.io/podlife/podlife:dev"},
	} {
		if got := imageFor(tt.version); got != tt.want {
			t.Errorf("imageFor(%q) = %q, want %q", tt.version, got, tt.want)
		}
	}
}
