package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// stream runs kubectl in the background, collecting its stdout, until
// the returned stop is called.
func (e *env) stream(t *testing.T, args ...string) (stop func() []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	cmd := exec.CommandContext(ctx, e.c.KubectlPath(), append([]string{"--kubeconfig", e.c.Kubeconfig}, args...)...)
	var mu sync.Mutex
	var out bytes.Buffer
	cmd.Stdout = writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	})
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	var once sync.Once
	stop = func() []byte {
		once.Do(func() {
			cancel()
			<-done
		})
		mu.Lock()
		defer mu.Unlock()
		return bytes.Clone(out.Bytes())
	}
	t.Cleanup(func() { stop() })
	return stop
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// termination is what deleting a Pod showed.
type termination struct {
	Status    containerStatus // the service container's last status, terminated
	DeletedAt time.Time
	Logs      []logLine // the container's whole log, to its end
}

// deleteAndWatch deletes a Pod while following its log and watching its
// status, and returns the final state of its service container.
func (e *env) deleteAndWatch(t *testing.T, ns, name string, limit time.Duration) termination {
	t.Helper()
	stopLogs := e.stream(t, "logs", "-f", "-n", ns, name, "-c", "service")
	stopWatch := e.stream(t, "get", "pod", "-n", ns, name, "-w", "-o", "json")
	time.Sleep(time.Second) // both streams attached
	var res termination
	res.DeletedAt = time.Now()
	e.kubectl(t, "delete", "pod", "-n", ns, name, "--wait=false")
	e.eventually(t, "pod "+name+" gone", limit, func() error {
		out, err := e.c.Kubectl(context.Background(), "get", "pod", "-n", ns, name, "--ignore-not-found", "-o", "name")
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) != "" {
			return fmt.Errorf("still there")
		}
		return nil
	})
	dec := json.NewDecoder(bytes.NewReader(stopWatch()))
	for {
		var p pod
		if err := dec.Decode(&p); err == io.EOF || err != nil {
			break
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Name == "service" && cs.State.Terminated != nil {
				res.Status = cs
			}
		}
	}
	res.Logs = parseLogs(string(stopLogs()))
	if res.Status.State.Terminated == nil {
		t.Fatalf("pod %s: no terminated status of container service was seen before the Pod was deleted", name)
	}
	return res
}

// find is the index of the first log line with this message (and, with
// key/value pairs, those fields), -1 if none.
func find(lines []logLine, message string, kv ...string) int {
next:
	for i, l := range lines {
		if l.Message != message {
			continue
		}
		for j := 0; j+1 < len(kv); j += 2 {
			if fmt.Sprint(l.Fields[kv[j]]) != kv[j+1] {
				continue next
			}
		}
		return i
	}
	return -1
}

// variant is a copy of the shipped Deployment named name (labels too).
func (e *env) variant(t *testing.T, rel, of, name string) map[string]any {
	t.Helper()
	dep := e.object(t, rel, of)
	relabel(dep, name)
	return dep
}

// onePod waits for a Deployment's rollout and returns one of its Pods.
func (e *env) onePod(t *testing.T, ns, deploy string) pod {
	t.Helper()
	e.rollout(t, ns, deploy)
	ps := e.pods(t, ns, "app.kubernetes.io/name="+deploy)
	for _, p := range ps {
		if ok, _ := p.ready(); ok && p.Metadata.DeletionTimestamp == nil {
			return p
		}
	}
	t.Fatalf("no Ready Pod of %s", deploy)
	return pod{}
}

// setEnv sets an environment variable of a container (decoded JSON).
func setEnv(ctr map[string]any, name, value string) {
	env, _ := ctr["env"].([]any)
	for _, v := range env {
		if m := v.(map[string]any); m["name"] == name {
			m["value"] = value
			delete(m, "valueFrom")
			return
		}
	}
	ctr["env"] = append(env, map[string]any{"name": name, "value": value})
}
