package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"sigs.k8s.io/yaml"
)

// koConfig is the part of .ko.yaml this test reads.
type koConfig struct {
	DefaultBaseImage string   `json:"defaultBaseImage"`
	DefaultPlatforms []string `json:"defaultPlatforms"`
	DefaultEnv       []string `json:"defaultEnv"`
	DefaultFlags     []string `json:"defaultFlags"`
	DefaultLdflags   []string `json:"defaultLdflags"`
	Builds           []struct {
		ID   string `json:"id"`
		Main string `json:"main"`
	} `json:"builds"`
}

// TestKo builds every build of .ko.yaml the way `ko build` does — go build
// with the file's env, flags and ldflags template (evaluated with ko's
// template data), the binary in a layer of its own at /ko-app/<name> on
// the base image, that path as the entrypoint — against a base image served
// by a registry on 127.0.0.1, pushes the results to that registry, and
// inspects them. Nothing leaves the machine.
//
// It does not link ko itself: ko's command package brought cosign, the
// sigstore libraries and three clouds' credential helpers into this module
// (950 packages to download and vet); go-containerregistry, the library ko
// builds images with, is 245.
func TestKo(t *testing.T) {
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, ".ko.yaml"))
	if err != nil {
		t.Fatalf("ko reads .ko.yaml (with the dot): %v", err)
	}
	var cfg koConfig
	if err := yaml.UnmarshalStrict(raw, &cfg); err != nil {
		t.Fatalf(".ko.yaml: %v", err)
	}
	if !strings.Contains(cfg.DefaultBaseImage, "static") || !strings.Contains(cfg.DefaultBaseImage, "nonroot") {
		t.Errorf("got defaultBaseImage %q, want a static nonroot image", cfg.DefaultBaseImage)
	}
	if !slices.Contains(cfg.DefaultEnv, "CGO_ENABLED=0") {
		t.Errorf("got defaultEnv %q, want CGO_ENABLED=0", cfg.DefaultEnv)
	}
	var mains []string
	for _, b := range cfg.Builds {
		mains = append(mains, b.Main)
	}
	for _, want := range []string{"./cmd/probe", "./cmd/warmup", "./cmd/prestop", "./examples/service"} {
		if !slices.Contains(mains, want) {
			t.Errorf(".ko.yaml builds %q, want it to build %s too", mains, want)
		}
	}

	// The registry, and a base image that looks like distroless static:nonroot:
	// a passwd file and the nonroot user, plus a random file so that its layer
	// is recognisable in the result.
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	marker := make([]byte, 64)
	rand.Read(marker)
	baseLayer, err := crane.Layer(map[string][]byte{
		"etc/passwd":       []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"),
		"etc/group":        []byte("root:x:0:\nnonroot:x:65532:\n"),
		"etc/podlife-base": marker,
	})
	if err != nil {
		t.Fatal(err)
	}
	base, err := mutate.AppendLayers(empty.Image, baseLayer)
	if err != nil {
		t.Fatal(err)
	}
	base, err = mutate.ConfigFile(base, &v1.ConfigFile{
		OS:           "linux",
		Architecture: runtime.GOARCH,
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: mustDiffIDs(t, baseLayer)},
		Config: v1.Config{
			User: "65532:65532",
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	baseRef, err := name.ParseReference(host + "/distroless/static:nonroot")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(baseRef, base); err != nil {
		t.Fatalf("push the base image to the loopback registry: %v", err)
	}
	baseDigest, _ := baseLayer.Digest()

	// `ko build --base-import-paths --tags=e2e --platform=linux/GOARCH`, with
	// KO_DEFAULTBASEIMAGE and KO_DOCKER_REPO pointing at the registry.
	pulled, err := remote.Image(baseRef)
	if err != nil {
		t.Fatalf("pull the base image from the loopback registry: %v", err)
	}
	ldflags := koLdflags(t, root, cfg.DefaultLdflags)
	for _, main := range mains {
		ref, err := name.ParseReference(host + "/podlife/" + path.Base(main) + ":e2e")
		if err != nil {
			t.Fatal(err)
		}
		img := koImage(t, root, pulled, main, cfg.DefaultEnv, cfg.DefaultFlags, ldflags)
		if err := remote.Write(ref, img); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
	}

	for _, main := range mains {
		bin := path.Base(main)
		t.Run(bin, func(t *testing.T) {
			ref, err := name.ParseReference(host + "/podlife/" + bin + ":e2e")
			if err != nil {
				t.Fatal(err)
			}
			img, err := remote.Image(ref)
			if err != nil {
				t.Fatalf("%s was not pushed: %v", ref, err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"/ko-app/" + bin}; !slices.Equal(cf.Config.Entrypoint, want) {
				t.Errorf("got entrypoint %q, want %q", cf.Config.Entrypoint, want)
			}
			if cf.Config.User != "65532:65532" {
				t.Errorf("got user %q, want 65532:65532 (the nonroot user of the base)", cf.Config.User)
			}
			if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
				t.Errorf("got platform %s/%s, want linux/%s", cf.OS, cf.Architecture, runtime.GOARCH)
			}
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			if len(layers) < 2 {
				t.Fatalf("got %d layers, want the base layer and the binary's", len(layers))
			}
			if d, _ := layers[0].Digest(); d != baseDigest {
				t.Errorf("got first layer %s, want the base layer %s", d, baseDigest)
			}
			file := extractFile(t, layers[1:], "ko-app/"+bin)
			checkReleaseBinary(t, file)
			if strings.HasPrefix(main, "./cmd/") {
				checkVersion(t, file, cf.Architecture)
			}
		})
	}
}

// mustDiffIDs returns the DiffIDs of layers.
func mustDiffIDs(t *testing.T, layers ...v1.Layer) []v1.Hash {
	t.Helper()
	var ids []v1.Hash
	for _, l := range layers {
		id, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// extractFile finds the regular file at name (no leading slash) in layers,
// checks that it is root-owned and executable by everyone, and writes it to
// a temporary file whose path it returns.
func extractFile(t *testing.T, layers []v1.Layer, name string) string {
	t.Helper()
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimPrefix(h.Name, "/") != name || h.Typeflag != tar.TypeReg {
				continue
			}
			if h.Uid != 0 || h.Mode&0o005 != 0o005 {
				t.Errorf("%s: got uid %d mode %o, want root-owned and executable by others", name, h.Uid, h.Mode)
			}
			dst := filepath.Join(t.TempDir(), path.Base(name))
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			return dst
		}
	}
	t.Fatalf("no file %s in the image's layers", name)
	return ""
}

// koLdflags evaluates .ko.yaml's defaultLdflags as ko does: each a Go
// template over ko's build data (.Env, .Date, .Timestamp, .Git.*), a field
// ko does not have being an error.
func koLdflags(t *testing.T, root string, tmpls []string) []string {
	t.Helper()
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	type gitData struct {
		Branch, Tag, ShortCommit, FullCommit, CommitDate, TreeState string
		CommitTimestamp                                             int64
		IsDirty, IsClean                                            bool
	}
	dirty := git("status", "--porcelain") != ""
	g := gitData{
		Branch:      git("rev-parse", "--abbrev-ref", "HEAD"),
		Tag:         git("describe", "--tags", "--abbrev=0"),
		ShortCommit: git("rev-parse", "--short", "HEAD"),
		FullCommit:  git("rev-parse", "HEAD"),
		CommitDate:  git("show", "-s", "--format=%cI", "HEAD"),
		IsDirty:     dirty,
		IsClean:     !dirty,
		TreeState:   map[bool]string{true: "dirty", false: "clean"}[dirty],
	}
	if g.Tag == "" {
		g.Tag = "v0.0.0" // ko's tag where there is none
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	now := time.Now().UTC()
	data := struct {
		Env       map[string]string
		Date      string
		Timestamp int64
		Git       gitData
	}{env, now.Format(time.RFC3339), now.Unix(), g}
	var out []string
	for _, s := range tmpls {
		tmpl, err := template.New("ldflags").Option("missingkey=error").Parse(s)
		if err != nil {
			t.Fatalf(".ko.yaml defaultLdflags %q: %v", s, err)
		}
		var b strings.Builder
		if err := tmpl.Execute(&b, data); err != nil {
			t.Fatalf(".ko.yaml defaultLdflags %q: %v", s, err)
		}
		out = append(out, b.String())
	}
	return out
}

// koImage builds main for linux/GOARCH with env, flags and ldflags, and
// returns base with the binary added as ko adds it: one layer holding
// /ko-app/<name>, root-owned, mode 0555, and that path as the entrypoint.
func koImage(t *testing.T, root string, base v1.Image, main string, env, flags, ldflags []string) v1.Image {
	t.Helper()
	bin := path.Base(main)
	out := filepath.Join(t.TempDir(), bin)
	args := append([]string{"build", "-o", out}, flags...)
	args = append(args, "-ldflags="+strings.Join(ldflags, " "), main)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(append(os.Environ(), env...), "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, h := range []*tar.Header{
		{Name: "ko-app/", Typeflag: tar.TypeDir, Mode: 0o555},
		{Name: "ko-app/" + bin, Typeflag: tar.TypeReg, Mode: 0o555, Size: int64(len(data))},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layer.Bytes())), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, l)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Entrypoint = []string{"/ko-app/" + bin}
	cf.Config.Cmd = nil
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
