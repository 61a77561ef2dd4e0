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
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	kocommands "github.com/google/ko/pkg/commands"
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

// TestKo builds every build of .ko.yaml with ko — the Go module, run
// in-process as the ko command — against a base image served by a registry
// on 127.0.0.1, pushes the results to that registry, and inspects them.
// Nothing leaves the machine: the base comes from KO_DEFAULTBASEIMAGE, and
// the Go modules come from the local module cache (or GOPROXY).
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

	// ko, as its own main would run it, from the repository root so that it
	// finds .ko.yaml by itself.
	t.Chdir(root)
	t.Setenv("KO_CONFIG_PATH", "")
	t.Setenv("KO_DEFAULTBASEIMAGE", baseRef.String())
	t.Setenv("KO_DOCKER_REPO", host+"/podlife")
	ko := kocommands.New()
	var out bytes.Buffer
	ko.SetOut(&out)
	ko.SetErr(&out)
	ko.SetArgs(append([]string{"build", "--base-import-paths", "--tags=e2e", "--sbom=none",
		"--platform=linux/" + runtime.GOARCH}, mains...))
	if err := ko.Execute(); err != nil {
		t.Fatalf("ko build: %v\n%s", err, out.String())
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
				t.Fatalf("ko did not push %s: %v", ref, err)
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
				t.Fatalf("got %d layers, want the base layer and ko's", len(layers))
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
