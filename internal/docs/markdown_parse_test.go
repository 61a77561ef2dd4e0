package docs

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestAnchor(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ heading, want string }{
		{"probe and kubelet's own probes", "probe-and-kubelets-own-probes"},
		{"What `make demo` shows", "what-make-demo-shows"},
		{"2. Without rebuilding the app image: an init container and `install`", "2-without-rebuilding-the-app-image-an-init-container-and-install"},
		{"Endpoints (`l.Handler()`)", "endpoints-lhandler"},
		{"gRPC: `lifecycle/grpcinflight`", "grpc-lifecyclegrpcinflight"},
		{"snake_case and CAPS", "snake_case-and-caps"},
	} {
		if got := anchor(tt.heading); got != tt.want {
			t.Errorf("anchor(%q) = %q, want %q", tt.heading, got, tt.want)
		}
	}
}

func TestReadPage(t *testing.T) {
	t.Parallel()
	md := "# Title\n" +
		"See [a](a.md#x) and `[not](a link)`.\n" +
		"```go\n" +
		"package main\n" +
		"// [not a link](b.md)\n" +
		"```\n" +
		"## Example\n" +
		"## Example\n" +
		"~~~~sh\n" +
		"# not a heading\n" +
		"~~~~\n" +
		"[ref]: c/d.md\n"
	path := filepath.Join(t.TempDir(), "p.md")
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := readPage(path)
	if err != nil {
		t.Fatal(err)
	}
	wantBlocks := []codeBlock{
		{lang: "go", line: 4, code: "package main\n// [not a link](b.md)\n"},
		{lang: "sh", line: 10, code: "# not a heading\n"},
	}
	if !reflect.DeepEqual(p.blocks, wantBlocks) {
		t.Errorf("blocks: got %+v, want %+v", p.blocks, wantBlocks)
	}
	wantLinks := []mdLink{{line: 2, target: "a.md#x"}, {line: 12, target: "c/d.md"}}
	if !reflect.DeepEqual(p.links, wantLinks) {
		t.Errorf("links: got %+v, want %+v", p.links, wantLinks)
	}
	wantAnchors := map[string]bool{"title": true, "example": true, "example-1": true}
	if !reflect.DeepEqual(p.anchors, wantAnchors) {
		t.Errorf("anchors: got %v, want %v", p.anchors, wantAnchors)
	}
}
