package cluster

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// DockerLock is the lock file every use of the shared Docker engine holds.
const DockerLock = "/tmp/podlife-docker.lock"

// LoadDockerImages copies images from the local Docker engine into the
// node's containerd (docker save | ctr images import), under DockerLock.
// There is no registry: Pods must not pull, and a tag other than :latest
// makes IfNotPresent the default pull policy.
func (c *Cluster) LoadDockerImages(ctx context.Context, refs ...string) error {
	tarPath := c.path("images/docker-save.tar")
	args := append([]string{DockerLock, "docker", "save", "-o", tarPath}, refs...)
	if out, err := exec.CommandContext(ctx, "flock", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("docker save %v: %v: %s", refs, err, out)
	}
	defer os.Remove(tarPath)
	return c.importArchive(ctx, tarPath)
}

// importArchive imports an image archive into the node's containerd. Its
// ctr (Debian's containerd 1.6) now and then fails an import with "content
// digest sha256:…: not found" for a blob that is in the archive (seen once
// in about 20 runs, on an image imported right after the previous test's
// Pods were deleted; the containerd issues tell of content collected
// during an import): an import is idempotent, so it is tried up to three
// times, and each retry is logged.
func (c *Cluster) importArchive(ctx context.Context, path string, args ...string) error {
	var err error
	for try := 1; try <= 3; try++ {
		if _, err = c.Ctr(ctx, append(append([]string{"images", "import"}, args...), path)...); err == nil ||
			!strings.Contains(err.Error(), "not found") || ctx.Err() != nil {
			return err
		}
		c.logf("ctr import of %s, try %d of 3: %v", filepath.Base(path), try, err)
		time.Sleep(time.Second)
	}
	return err
}

// TagImage gives an image in the node's containerd another name.
func (c *Cluster) TagImage(ctx context.Context, src, dst string) error {
	_, err := c.Ctr(ctx, "images", "tag", "--force", src, dst)
	return err
}

// File is one regular file of an image built by ImportImage.
type File struct {
	Path string // absolute path in the image
	Data []byte
	Mode int64
}

// ImageConfig is the part of an OCI image configuration ImportImage sets.
type ImageConfig struct {
	User       string   `json:"User,omitempty"`
	Entrypoint []string `json:"Entrypoint,omitempty"`
	Env        []string `json:"Env,omitempty"`
}

// ImportImage builds a one-layer image FROM scratch holding files, and
// imports it into the node's containerd as ref: no Docker engine, no
// registry.
func (c *Cluster) ImportImage(ctx context.Context, ref string, files []File, cfg ImageConfig) error {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	dirs := map[string]bool{}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	epoch := time.Unix(0, 0)
	for _, f := range files {
		rel := strings.TrimPrefix(f.Path, "/")
		var parents []string
		for d := filepath.Dir(rel); d != "."; d = filepath.Dir(d) {
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			if dirs[d] {
				continue
			}
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch}); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: f.Mode, Size: int64(len(f.Data)), ModTime: epoch}); err != nil {
			return err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	layerDigest := digest(layer.Bytes())
	config, _ := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       cfg,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{layerDigest}},
	})
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        descriptor("application/vnd.oci.image.config.v1+json", config),
		"layers":        []any{descriptor("application/vnd.oci.image.layer.v1.tar", layer.Bytes())},
	})
	md := descriptor("application/vnd.oci.image.manifest.v1+json", manifest)
	md["annotations"] = map[string]string{"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": ref}
	index, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{md}})

	var archive bytes.Buffer
	aw := tar.NewWriter(&archive)
	add := func(name string, data []byte) error {
		if err := aw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: epoch}); err != nil {
			return err
		}
		_, err := aw.Write(data)
		return err
	}
	for _, e := range []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
		{blob(config), config},
		{blob(manifest), manifest},
		{blob(layer.Bytes()), layer.Bytes()},
	} {
		if err := add(e.name, e.data); err != nil {
			return err
		}
	}
	if err := aw.Close(); err != nil {
		return err
	}
	path := c.path("images/" + hex.EncodeToString([]byte(ref))[:16] + ".tar")
	if err := os.WriteFile(path, archive.Bytes(), 0o644); err != nil {
		return err
	}
	defer os.Remove(path)
	return c.importArchive(ctx, path, "--index-name", ref)
}

func digest(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }

func blob(b []byte) string { return "blobs/sha256/" + strings.TrimPrefix(digest(b), "sha256:") }

func descriptor(mediaType string, b []byte) map[string]any {
	return map[string]any{"mediaType": mediaType, "digest": digest(b), "size": len(b)}
}

// importPause builds the sandbox image: a static program that waits for
// SIGTERM (cmd/pause), FROM scratch.
func (c *Cluster) importPause(ctx context.Context) error {
	bin := c.path("images/pause")
	src, err := moduleDir()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/pause")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the pause program: %v: %s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	return c.ImportImage(ctx, sandboxRef, []File{{Path: "/pause", Data: data, Mode: 0o755}},
		ImageConfig{User: "65535:65535", Entrypoint: []string{"/pause"}})
}

// moduleDir is the directory of the e2e/kube module (this file's ../).
func moduleDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the e2e/kube module")
	}
	dir := filepath.Dir(filepath.Dir(file))
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return "", err
	}
	return dir, nil
}
