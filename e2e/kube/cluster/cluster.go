// Package cluster starts a single-node Kubernetes cluster built from
// upstream source (see ../build.sh) on this machine, beside a running
// Docker engine, and tears it down again, removing only what it created.
//
// It needs root on Linux, the Debian packages containerd, runc,
// containernetworking-plugins, conntrack, nftables and iptables, and the
// binaries build.sh makes. The node runs its own containerd (own config,
// root, state and socket; Docker's is never touched), kubelet in its own
// mount namespace, kube-proxy in nftables mode and the CNI bridge,
// host-local and firewall plugins. What the run changes on the host (links,
// mounts, nft tables, iptables rules, cgroups, files kubelet writes
// whatever its configuration says) is recorded before and the difference
// removed at the end; every process is stopped by its PID. The record is
// kept in the work directory, so kube-teardown can finish an interrupted
// run.
//
// A test gets a ready cluster with Start, talks to it with Kubectl or the
// Kubeconfig file, loads images with LoadDockerImages, and calls Stop.
package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure Start.
type Options struct {
	// BinDir holds kube-apiserver, kube-controller-manager,
	// kube-scheduler, kubelet, kube-proxy, kubectl, etcd and crictl
	// (build.sh prints it). Required.
	BinDir string
	// WorkDir is where the cluster keeps its state, certificates, logs and
	// container storage; empty means a new directory under /var/tmp. It is
	// removed by Stop unless KeepWork is set.
	WorkDir string
	// KeepWork keeps WorkDir (logs included) after Stop.
	KeepWork bool
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Cluster is a running single-node cluster.
type Cluster struct {
	// Kubeconfig is the path of a cluster-admin kubeconfig.
	Kubeconfig string
	// ContainerdSocket is the node's containerd gRPC socket.
	ContainerdSocket string
	// Work is the work directory.
	Work string
	// Timings are the start-up figures: "apiserver", "node", "total".
	Timings map[string]time.Duration

	opts     Options
	st       *state
	pki      *pki
	mu       sync.Mutex
	stopOnce sync.Once
	stopErr  error
}

// Unsupported reports why this machine cannot run a cluster, or "" if it
// can: not Linux, not root, or no Docker engine (whose presence is what
// makes this the machine the harness is written for).
func Unsupported() string {
	if runtime.GOOS != "linux" {
		return "not Linux (" + runtime.GOOS + ")"
	}
	if os.Geteuid() != 0 {
		return "not root (uid " + strconv.Itoa(os.Geteuid()) + ")"
	}
	if err := exec.Command("docker", "info").Run(); err != nil {
		return "no Docker engine (`docker info`: " + err.Error() + ")"
	}
	return ""
}

func (c *Cluster) path(rel string) string { return filepath.Join(c.Work, rel) }

func (c *Cluster) logf(format string, args ...any) {
	if c.opts.Logf != nil {
		c.opts.Logf(format, args...)
	}
}

// Start brings a cluster up. On error, what it had started is torn down.
func Start(ctx context.Context, o Options) (_ *Cluster, err error) {
	if why := Unsupported(); why != "" {
		return nil, errors.New("cluster: cannot run here: " + why)
	}
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl", "etcd", "crictl"} {
		if _, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil {
			return nil, fmt.Errorf("cluster: BinDir: %w (run e2e/kube/build.sh)", err)
		}
	}
	for _, b := range []string{"containerd", "ctr", "runc", "nft", "iptables", "ip6tables", "conntrack", "unshare", "ip", "/usr/lib/cni/bridge", "/usr/lib/cni/firewall", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback"} {
		if _, err := exec.LookPath(b); err != nil {
			return nil, fmt.Errorf("cluster: %s missing: install containerd runc containernetworking-plugins conntrack nftables iptables", b)
		}
	}
	if v, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(string(v)) != "1" {
		return nil, errors.New("cluster: net.ipv4.ip_forward is not 1 (Docker sets it; the harness changes no sysctl)")
	}
	if err := checkAddressesFree(); err != nil {
		return nil, err
	}
	work := o.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("/var/tmp", "podlife-kube-"); err != nil {
			return nil, err
		}
	}
	c := &Cluster{opts: o, Work: work, Timings: map[string]time.Duration{}}
	c.ContainerdSocket = c.path("containerd.sock")
	c.Kubeconfig = c.kubeconfigFor("admin")
	before, err := snapshotHost()
	if err != nil {
		return nil, fmt.Errorf("cluster: recording the host: %w", err)
	}
	c.st = &state{Work: work, Containerd: c.ContainerdSocket, BinDir: o.BinDir, Bridges: []string{nodeBridge, podBridge}, Before: before}
	for _, d := range []string{"logs", "kubeconfig", "containerd", "cni/net.d", "cni/ipam", "kubelet", "pod-logs", "sysctl", "etcd", "images"} {
		if err := os.MkdirAll(c.path(d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := c.st.save(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.logf("start failed: %v; tearing down", err)
			c.Stop()
		}
	}()
	t0 := time.Now()
	if err := c.network(); err != nil {
		return nil, err
	}
	if err := c.certificates(); err != nil {
		return nil, err
	}
	if err := c.startContainerd(ctx); err != nil {
		return nil, err
	}
	if err := c.importPause(ctx); err != nil {
		return nil, err
	}
	if err := c.startControlPlane(ctx); err != nil {
		return nil, err
	}
	c.Timings["apiserver"] = time.Since(t0)
	if err := c.startNode(ctx); err != nil {
		return nil, err
	}
	c.Timings["node"] = time.Since(t0)
	// Pods wait for the default service account.
	if err := c.waitFor(ctx, "the default service account", 60*time.Second, func() error {
		_, err := c.Kubectl(ctx, "get", "serviceaccount", "default", "-n", "default")
		return err
	}); err != nil {
		return nil, err
	}
	c.Timings["total"] = time.Since(t0)
	c.logf("cluster up in %v (apiserver ready after %v, node Ready after %v)", c.Timings["total"].Round(time.Millisecond),
		c.Timings["apiserver"].Round(time.Millisecond), c.Timings["node"].Round(time.Millisecond))
	return c, nil
}

// checkAddressesFree refuses to run where the cluster's addresses are
// routed already (another run, or a network that uses them).
func checkAddressesFree() error {
	out, err := output("ip", "-4", "route", "show")
	if err != nil {
		return err
	}
	_, pods, _ := net.ParseCIDR(PodCIDR)
	_, svcs, _ := net.ParseCIDR(ServiceCIDR)
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] == "default" {
			continue
		}
		dst := f[0]
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		_, n, err := net.ParseCIDR(dst)
		if err != nil {
			continue
		}
		for _, mine := range []*net.IPNet{pods, svcs, {IP: net.ParseIP(nodeIP).To4(), Mask: net.CIDRMask(32, 32)}} {
			if n.Contains(mine.IP) || mine.Contains(n.IP) {
				return fmt.Errorf("cluster: route %q overlaps the cluster's %v (is another run up? kube-teardown WORKDIR)", l, mine)
			}
		}
	}
	return nil
}

func (c *Cluster) network() error {
	for _, args := range [][]string{
		{"link", "add", nodeBridge, "type", "bridge"},
		{"addr", "add", nodeIP + "/32", "dev", nodeBridge},
		{"link", "set", nodeBridge, "up"},
		{"route", "add", ServiceCIDR, "dev", nodeBridge, "src", nodeIP},
	} {
		if _, err := output("ip", args...); err != nil {
			return err
		}
	}
	// Pods reach each other through the firewall plugin's accept rules and
	// nothing outside their bridge: the plugin jumps to CNI-ADMIN first.
	if _, err := output("iptables", "-w", "-t", "filter", "-L", "CNI-ADMIN", "-n"); err != nil {
		if _, err := output("iptables", "-w", "-t", "filter", "-N", "CNI-ADMIN"); err != nil {
			return err
		}
	}
	_, err := output("iptables", "-w", "-t", "filter", "-I", "CNI-ADMIN", "-i", podBridge, "!", "-o", podBridge,
		"-m", "comment", "--comment", "podlife-e2e: Pods reach nothing outside their bridge", "-j", "DROP")
	return err
}

func (c *Cluster) certificates() error {
	p, err := newPKI(c.path("pki"))
	if err != nil {
		return err
	}
	c.pki = p
	ip := net.ParseIP(nodeIP)
	api := []net.IP{ip, net.ParseIP("10.96.0.1"), net.ParseIP("127.0.0.1")}
	for _, cert := range []struct {
		name, cn string
		orgs     []string
		ips      []net.IP
		dns      []string
	}{
		{"apiserver", "kube-apiserver", nil, api, []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "localhost"}},
		{"apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}, nil, nil},
		{"admin", "podlife-e2e-admin", []string{"system:masters"}, nil, nil},
		{"kube-controller-manager", "system:kube-controller-manager", nil, nil, nil},
		{"kube-scheduler", "system:kube-scheduler", nil, nil, nil},
		{"kubelet", "system:node:" + NodeName, []string{"system:nodes"}, []net.IP{ip}, []string{NodeName}},
		{"kube-proxy", "system:kube-proxy", nil, nil, nil},
	} {
		if err := p.issue(cert.name, cert.cn, cert.orgs, cert.ips, cert.dns); err != nil {
			return err
		}
	}
	if err := p.serviceAccountKey(); err != nil {
		return err
	}
	for _, n := range []string{"admin", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"} {
		if err := c.writeKubeconfig(n); err != nil {
			return err
		}
	}
	return nil
}

// spawn starts a process, its output in logs/NAME.log, and records it.
func (c *Cluster) spawn(name string, argv ...string) error {
	f, err := os.OpenFile(c.path("logs/"+name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = c.Work
	// A process group of its own: a ^C at the terminal reaches the test,
	// which stops the cluster in order, not every component at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	st, err := procStart(cmd.Process.Pid)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.st.Procs = append(c.st.Procs, procRecord{Name: name, PID: cmd.Process.Pid, Start: st})
	err = c.st.save()
	c.mu.Unlock()
	go cmd.Wait() // reap it; Teardown watches /proc
	c.logf("started %s (pid %d)", name, cmd.Process.Pid)
	return err
}

// exited reports whether the named process has exited, with its log tail.
func (c *Cluster) exited(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.st.Procs {
		if p.Name == name && !alive(p) {
			return fmt.Errorf("%s exited; log tail:\n%s", name, c.LogTail(name, 20))
		}
	}
	return nil
}

// LogTail is the last n lines of a component's log (etcd, kube-apiserver,
// kubelet, containerd ...).
func (c *Cluster) LogTail(name string, n int) string {
	b, _ := os.ReadFile(c.path("logs/" + name + ".log"))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor polls f every 250 ms until it returns nil, for at most limit.
func (c *Cluster) waitFor(ctx context.Context, what string, limit time.Duration, f func() error, procs ...string) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		if last = f(); last == nil {
			return nil
		}
		for _, p := range procs {
			if err := c.exited(p); err != nil {
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %v (last: %v)", what, ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (c *Cluster) startContainerd(ctx context.Context) error {
	cfg := c.path("containerd/config.toml")
	if err := os.WriteFile(cfg, []byte(containerdConfig(c)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(c.path("cni/net.d/10-podlife-e2e.conflist"), []byte(cniConfig(c)), 0o644); err != nil {
		return err
	}
	if err := c.spawn("containerd", "containerd", "--config", cfg, "--log-level", "warn"); err != nil {
		return err
	}
	return c.waitFor(ctx, "containerd", 30*time.Second, func() error {
		_, err := c.Ctr(ctx, "version")
		return err
	}, "containerd")
}

// Ctr runs containerd's ctr against the node's containerd, in the k8s.io
// namespace.
func (c *Cluster) Ctr(ctx context.Context, args ...string) (string, error) {
	return c.run(ctx, nil, "ctr", append([]string{"-a", c.ContainerdSocket, "-n", "k8s.io"}, args...)...)
}

func (c *Cluster) run(ctx context.Context, stdin *bytes.Reader, name string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Kubectl runs kubectl as cluster admin and returns its stdout.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) (string, error) {
	return c.run(ctx, nil, filepath.Join(c.opts.BinDir, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
}

// KubectlIn is Kubectl with stdin.
func (c *Cluster) KubectlIn(ctx context.Context, stdin []byte, args ...string) (string, error) {
	return c.run(ctx, bytes.NewReader(stdin), filepath.Join(c.opts.BinDir, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
}

// KubectlPath is the kubectl binary.
func (c *Cluster) KubectlPath() string { return filepath.Join(c.opts.BinDir, "kubectl") }

func (c *Cluster) freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (c *Cluster) startControlPlane(ctx context.Context) error {
	client, err := c.freePort()
	if err != nil {
		return err
	}
	peer, err := c.freePort()
	if err != nil {
		return err
	}
	bin := func(n string) string { return filepath.Join(c.opts.BinDir, n) }
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", client)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
	if err := c.spawn("etcd", bin("etcd"), "--name=podlife-e2e", "--data-dir="+c.path("etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=podlife-e2e="+peerURL, "--unsafe-no-fsync", "--log-level=warn"); err != nil {
		return err
	}
	p := c.pki.path
	if err := c.spawn("kube-apiserver", bin("kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address="+nodeIP, "--advertise-address="+nodeIP, fmt.Sprintf("--secure-port=%d", apiPort),
		"--client-ca-file="+p("ca.crt"), "--tls-cert-file="+p("apiserver.crt"), "--tls-private-key-file="+p("apiserver.key"),
		"--kubelet-client-certificate="+p("apiserver-kubelet-client.crt"), "--kubelet-client-key="+p("apiserver-kubelet-client.key"),
		"--kubelet-preferred-address-types=InternalIP",
		"--authorization-mode=Node,RBAC", "--service-cluster-ip-range="+ServiceCIDR,
		"--service-account-issuer=https://kubernetes.default.svc", "--service-account-key-file="+p("sa.pub"),
		"--service-account-signing-key-file="+p("sa.key"), "--profiling=false", "--v=0"); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "kube-apiserver /readyz", 120*time.Second, func() error {
		_, err := c.Kubectl(ctx, "get", "--raw", "/readyz")
		return err
	}, "etcd", "kube-apiserver"); err != nil {
		return err
	}
	if err := c.spawn("kube-controller-manager", bin("kube-controller-manager"),
		"--kubeconfig="+c.kubeconfigFor("kube-controller-manager"), "--leader-elect=false",
		"--bind-address=127.0.0.1", "--secure-port=0",
		"--service-account-private-key-file="+p("sa.key"), "--root-ca-file="+p("ca.crt"),
		"--service-cluster-ip-range="+ServiceCIDR, "--use-service-account-credentials=true", "--profiling=false", "--v=0"); err != nil {
		return err
	}
	return c.spawn("kube-scheduler", bin("kube-scheduler"),
		"--kubeconfig="+c.kubeconfigFor("kube-scheduler"), "--leader-elect=false",
		"--bind-address=127.0.0.1", "--secure-port=0", "--profiling=false", "--v=0")
}

func (c *Cluster) startNode(ctx context.Context) error {
	for _, s := range kubeletSysctls() {
		if err := os.WriteFile(c.path("sysctl/"+strings.ReplaceAll(s.name, "/", "_")), []byte(s.value+"\n"), 0o644); err != nil {
			return err
		}
	}
	// kubelet's root dir is a shared mount: the volumes it mounts in its
	// own namespace must be seen by containerd in the host's.
	root := c.path("kubelet")
	if _, err := output("mount", "--bind", root, root); err != nil {
		return err
	}
	if _, err := output("mount", "--make-rshared", root); err != nil {
		return err
	}
	cfg := c.path("kubelet-config.yaml")
	if err := os.WriteFile(cfg, []byte(kubeletConfig(c)), 0o644); err != nil {
		return err
	}
	args := []string{"--config=" + cfg, "--kubeconfig=" + c.kubeconfigFor("kubelet"),
		"--root-dir=" + root, "--cert-dir=" + c.path("kubelet-pki"),
		"--hostname-override=" + NodeName, "--node-ip=" + nodeIP, "--v=0"}
	kubeletStart := time.Now()
	if err := c.spawn("kubelet", "unshare", "--mount", "--propagation", "unchanged", "--", "/bin/sh", "-c",
		kubeletScript(c, filepath.Join(c.opts.BinDir, "kubelet"), args)); err != nil {
		return err
	}
	pcfg := c.path("kube-proxy-config.yaml")
	healthz, err := c.freePort()
	if err != nil {
		return err
	}
	metrics, err := c.freePort()
	if err != nil {
		return err
	}
	if err := os.WriteFile(pcfg, []byte(kubeProxyConfig(c, healthz, metrics)), 0o644); err != nil {
		return err
	}
	if err := c.spawn("kube-proxy", filepath.Join(c.opts.BinDir, "kube-proxy"), "--config="+pcfg, "--v=0"); err != nil {
		return err
	}
	// A Ready condition whose heartbeat is newer than this kubelet: after a
	// restart the old Node object still says Ready.
	return c.waitFor(ctx, "node "+NodeName+" Ready", 120*time.Second, func() error {
		out, err := c.Kubectl(ctx, "get", "node", NodeName, "-o",
			`jsonpath={range .status.conditions[?(@.type=="Ready")]}{.status} {.lastHeartbeatTime}{end}`)
		if err != nil {
			return err
		}
		f := strings.Fields(out)
		if len(f) != 2 || f[0] != "True" {
			return fmt.Errorf("Ready=%q", out)
		}
		hb, err := time.Parse(time.RFC3339, f[1])
		if err != nil || hb.Add(time.Second).Before(kubeletStart) {
			return fmt.Errorf("Ready heartbeat %s is older than this kubelet", f[1])
		}
		return nil
	}, "kubelet", "kube-proxy", "containerd")
}

// Stop tears the cluster down (see Teardown). Safe to call twice.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		c.stopErr = Teardown(c.Work, c.logf)
		if c.stopErr == nil && !c.opts.KeepWork {
			c.stopErr = removeWork(c.Work)
		}
	})
	return c.stopErr
}

// removeWork deletes the work directory, refusing while anything is still
// mounted under it (RemoveAll would follow into the mount).
func removeWork(work string) error {
	mps, err := mountPoints()
	if err != nil {
		return err
	}
	for _, m := range mps {
		if m == work || strings.HasPrefix(m, work+"/") {
			return fmt.Errorf("cluster: %s still mounted; left %s in place", m, work)
		}
	}
	return os.RemoveAll(work)
}

// RSS is the resident memory of every process the cluster started: the
// control plane, kubelet, kube-proxy, containerd, and the shims with all
// the containers under them.
func (c *Cluster) RSS() uint64 {
	c.mu.Lock()
	roots := map[int]bool{}
	for _, p := range c.st.Procs {
		if alive(p) {
			roots[p.PID] = true
		}
	}
	c.mu.Unlock()
	for _, s := range shims(c.ContainerdSocket) {
		roots[s.PID] = true
	}
	parent := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i > 0 {
			if f := strings.Fields(s[i+1:]); len(f) > 2 {
				parent[pid], _ = strconv.Atoi(f[1])
			}
		}
	}
	var total uint64
	for pid := range parent {
		in := false
		for p, n := pid, 0; p > 1 && n < 64; p, n = parent[p], n+1 {
			if roots[p] {
				in = true
				break
			}
		}
		if !in {
			continue
		}
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				total += kb << 10
			}
		}
	}
	return total
}

// RuntimeVersion is the container runtime's version, as the CRI reports
// it (crictl version).
func (c *Cluster) RuntimeVersion(ctx context.Context) (string, error) {
	ep := "unix://" + c.ContainerdSocket
	out, err := c.run(ctx, nil, filepath.Join(c.opts.BinDir, "crictl"), "-r", ep, "-i", ep, "version")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "RuntimeVersion:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("crictl version: no RuntimeVersion in %q", out)
}
