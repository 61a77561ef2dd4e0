package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, COPY, RUN, …
	args string
}

// stage is a FROM and the instructions up to the next FROM.
type stage []instruction

// parseDockerfile returns the stages of the Dockerfile at path (global ARGs
// before the first FROM are dropped).
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []stage
	var cur string
	sc := bufio.NewScanner(f)
	flush := func() {
		line := strings.Join(strings.Fields(cur), " ")
		cur = ""
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{strings.ToUpper(cmd), args}
		if in.cmd == "FROM" {
			stages = append(stages, stage{in})
		} else if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			cur += s + " "
			continue
		}
		cur += line
		flush()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return stages
}

// TestPrebuiltDockerfilesAgree checks that the final stage of each prebuilt
// Dockerfile (what `make image` uses where nothing can be pulled) is the
// final stage of its multi-stage Dockerfile, except for where a COPY takes
// the binaries from: same user, labels, entrypoint, health check.
func TestPrebuiltDockerfilesAgree(t *testing.T) {
	root := repoRoot(t)
	for _, pair := range [][2]string{
		{"images/Dockerfile", "images/prebuilt.Dockerfile"},
		{"images/service/Dockerfile", "images/service/prebuilt.Dockerfile"},
	} {
		t.Run(pair[1], func(t *testing.T) {
			multi := parseDockerfile(t, filepath.Join(root, pair[0]))
			pre := parseDockerfile(t, filepath.Join(root, pair[1]))
			if len(multi) == 0 || len(pre) == 0 {
				t.Fatal("no stages")
			}
			a, b := multi[len(multi)-1], pre[len(pre)-1]
			if len(a) != len(b) {
				t.Fatalf("got %d instructions in the final stage of %s, want %d as in %s", len(b), pair[1], len(a), pair[0])
			}
			for i := range a {
				if a[i].cmd == "COPY" && b[i].cmd == "COPY" {
					// Same destination; the source may differ.
					fa, fb := strings.Fields(a[i].args), strings.Fields(b[i].args)
					if fa[len(fa)-1] != fb[len(fb)-1] {
						t.Errorf("instruction %d: got COPY to %s, want to %s", i, fb[len(fb)-1], fa[len(fa)-1])
					}
					continue
				}
				if a[i] != b[i] {
					t.Errorf("instruction %d: got %s %s, want %s %s", i, b[i].cmd, b[i].args, a[i].cmd, a[i].args)
				}
			}
			if !slices.ContainsFunc(b, func(in instruction) bool { return in.cmd == "USER" && in.args == "65532:65532" }) {
				t.Errorf("%s: no USER 65532:65532", pair[1])
			}
		})
	}
}

// TestDockerfileCopiesImports checks that the build stage of each
// multi-stage Dockerfile copies every directory of this module that the
// packages it builds import, and that the .dockerignore next to it lets
// them through: the build stage copies directories one by one (for the
// layer cache), so a new import would otherwise break the image build only.
func TestDockerfileCopiesImports(t *testing.T) {
	root := repoRoot(t)
	const module = "github.com/podlife/podlife"
	for _, df := range []string{"images/Dockerfile", "images/service/Dockerfile"} {
		t.Run(df, func(t *testing.T) {
			var copied, pkgs []string
			for _, st := range parseDockerfile(t, filepath.Join(root, df)) {
				if !strings.Contains(st[0].args, " AS build") {
					continue
				}
				for _, in := range st {
					f := strings.Fields(in.args)
					switch {
					case in.cmd == "COPY" && !strings.HasPrefix(f[0], "--"):
						copied = append(copied, f[:len(f)-1]...)
					case in.cmd == "RUN" && strings.Contains(in.args, "go build"):
						for _, w := range f {
							if strings.HasPrefix(w, "./") {
								pkgs = append(pkgs, w)
							}
						}
					}
				}
			}
			if len(pkgs) == 0 {
				t.Fatal("no `go build ./…` in a stage named build")
			}
			ignore, err := os.ReadFile(filepath.Join(root, df+".dockerignore"))
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("go", append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, pkgs...)...)
			cmd.Dir = root
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			for _, p := range strings.Fields(string(out)) {
				rel, ok := strings.CutPrefix(p, module+"/")
				if !ok {
					continue
				}
				covered := func(dir string) bool { return strings.HasPrefix(rel+"/", strings.TrimSuffix(dir, "/")+"/") }
				if !slices.ContainsFunc(copied, covered) {
					t.Errorf("%s imports %s, but the build stage copies only %q", strings.Join(pkgs, " "), p, copied)
				}
				if !slices.ContainsFunc(strings.Split(string(ignore), "\n"), func(l string) bool {
					d, ok := strings.CutPrefix(strings.TrimSpace(l), "!")
					return ok && covered(d)
				}) {
					t.Errorf("%s.dockerignore does not let %s through", df, rel)
				}
			}
		})
	}
}
