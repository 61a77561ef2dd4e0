package docs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is the repository's root, seen from this package's directory.
const root = "../.."

// pages returns README.md and docs/*.md, relative to root.
func pages(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatalf("no docs/*.md under %s", root)
	}
	files := []string{"README.md"}
	for _, d := range docs {
		rel, err := filepath.Rel(root, d)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, rel)
	}
	return files
}

// snippet is one Go block, where it comes from and where the build sees it.
type snippet struct {
	file string // relative to root: "docs/lifecycle.md"
	line int    // the block's first line of code in file
	tmp  string // the file the build reads
}

// TestGoBlocksCompile compiles every ```go block of README.md and
// docs/*.md, as it stands: each must be a whole Go file, gofmt-formatted,
// that builds in this module (as package main or any other). The blocks
// are laid over the module with go build -overlay, one package each, so
// nothing is written into the source tree.
func TestGoBlocksCompile(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to compile the documentation's Go blocks: %v", err)
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	overlay := map[string]string{}
	var snippets []snippet
	var pkgs []string
	for _, file := range pages(t) {
		p, err := readPage(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range p.blocks {
			if b.lang != "go" {
				continue
			}
			if !checkSource(t, file, b) {
				continue
			}
			n := len(snippets)
			s := snippet{file: file, line: b.line, tmp: filepath.Join(tmp, fmt.Sprintf("snippet%02d.go", n))}
			if err := os.WriteFile(s.tmp, []byte(b.code), 0o644); err != nil {
				t.Fatal(err)
			}
			dir := fmt.Sprintf("internal/docs/snippet/s%02d", n)
			overlay[filepath.Join(absRoot, filepath.FromSlash(dir), "snippet.go")] = s.tmp
			pkgs = append(pkgs, "./"+dir)
			snippets = append(snippets, s)
		}
	}
	if len(snippets) == 0 {
		t.Fatal("no Go block in README.md or docs/*.md: the test would check nothing")
	}
	ov, err := json.Marshal(map[string]any{"Replace": overlay})
	if err != nil {
		t.Fatal(err)
	}
	ovFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ovFile, ov, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goBin, append([]string{"build", "-overlay", ovFile}, pkgs...)...)
	cmd.Dir = absRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("the documentation's Go blocks do not compile (%v):\n%s", err, where(string(out), snippets))
	}
	t.Logf("compiled %d Go blocks", len(snippets))
}

// checkSource reports, as file:line, a block that is not a whole,
// gofmt-formatted Go file.
func checkSource(t *testing.T, file string, b codeBlock) bool {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", b.code, parser.ParseComments)
	if err != nil {
		// positions in the message are the block's; the first line is b.line
		t.Errorf("%s:%d: a Go block that does not parse (each must be a whole file, from `package` on; line 1 is the block's first): %v", file, b.line, err)
		return false
	}
	if f.Name == nil {
		t.Errorf("%s:%d: a Go block with no package clause", file, b.line)
		return false
	}
	formatted, err := format.Source([]byte(b.code))
	if err != nil {
		t.Errorf("%s:%d: %v", file, b.line, err)
		return false
	}
	if !bytes.Equal(formatted, []byte(b.code)) {
		got, want := strings.Split(b.code, "\n"), strings.Split(string(formatted), "\n")
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		line := func(ls []string) string {
			if i < len(ls) {
				return ls[i]
			}
			return "(end of block)"
		}
		t.Errorf("%s:%d: a Go block that gofmt would change:\n got: %s\nwant: %s", file, b.line+i, line(got), line(want))
	}
	return true
}

// where rewrites the build's positions in snippet files into positions in
// the Markdown files.
func where(out string, snippets []snippet) string {
	for _, s := range snippets {
		re := regexp.MustCompile(regexp.QuoteMeta(s.tmp) + `:(\d+)`)
		out = re.ReplaceAllStringFunc(out, func(m string) string {
			var n int
			fmt.Sscanf(m[len(s.tmp)+1:], "%d", &n)
			return fmt.Sprintf("%s:%d", s.file, s.line+n-1)
		})
	}
	return out
}

// TestRelativeLinks checks every link of README.md and docs/*.md that is
// not a URL: the file or directory exists, inside the repository, and an
// #anchor names a heading of the page it points at.
func TestRelativeLinks(t *testing.T) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	schemeRE := regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	read := map[string]*page{}
	load := func(path string) *page {
		if p, ok := read[path]; ok {
			return p
		}
		p, err := readPage(path)
		if err != nil {
			t.Fatal(err)
		}
		read[path] = p
		return p
	}
	checked := 0
	for _, file := range pages(t) {
		src := filepath.Join(absRoot, file)
		for _, l := range load(src).links {
			if schemeRE.MatchString(l.target) {
				continue
			}
			checked++
			path, frag, _ := strings.Cut(l.target, "#")
			target := src
			if path != "" {
				target = filepath.Join(filepath.Dir(src), filepath.FromSlash(path))
			}
			if rel, err := filepath.Rel(absRoot, target); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s:%d: link %q leaves the repository", file, l.line, l.target)
				continue
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s:%d: link %q: no such file", file, l.line, l.target)
				continue
			}
			if frag == "" || !strings.HasSuffix(target, ".md") {
				continue
			}
			if !load(target).anchors[frag] {
				t.Errorf("%s:%d: link %q: %s has no heading with the anchor #%s", file, l.line, l.target, filepath.Base(target), frag)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative link found: the test would check nothing")
	}
	t.Logf("checked %d relative links", checked)
}

// TestPodBlockIsTheExample keeps the README's "Add it to your Pod" block
// true: its lines, in order, are lines of examples/kubernetes/deployment.yaml
// (indentation aside), the manifest kubectl podlife lint checks (its
// TestExamplesClean) and e2e/manifests_test.go checks the wiring of.
func TestPodBlockIsTheExample(t *testing.T) {
	p, err := readPage(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var block *codeBlock
	for i, b := range p.blocks {
		if b.lang == "yaml" && strings.Contains(b.code, "/podlife/prestop") {
			block = &p.blocks[i]
			break
		}
	}
	if block == nil {
		t.Fatal("README.md has no yaml block that calls /podlife/prestop")
	}
	example, err := os.ReadFile(filepath.Join(root, "examples", "kubernetes", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(example), "\n") {
		lines = append(lines, strings.TrimSpace(l))
	}
	next := 0
	for i, l := range strings.Split(strings.TrimRight(block.code, "\n"), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		found := false
		for ; next < len(lines); next++ {
			if lines[next] == l {
				found, next = true, next+1
				break
			}
		}
		if !found {
			t.Fatalf("README.md:%d: %q is not in examples/kubernetes/deployment.yaml (after the lines before it)", block.line+i, l)
		}
	}
}
