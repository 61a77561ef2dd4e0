package cluster

import (
	"fmt"
	"os"
	"strings"
)

// The cluster's fixed addresses. The node address sits alone (/32) on a
// bridge with no ports: kubelet refuses a loopback node IP and this kernel
// has no dummy links. Service addresses are routed into that bridge, so an
// unknown ClusterIP never leaves the machine.
const (
	NodeName    = "podlife-node"
	nodeIP      = "10.213.0.1"
	nodeBridge  = "pl-node0"
	podBridge   = "pl-cni0"
	PodCIDR     = "10.244.0.0/24"
	ServiceCIDR = "10.96.0.0/16"
	sandboxRef  = "podlife.local/pause:e2e"
	apiPort     = 6443
	kubeletPort = 10250
)

func containerdConfig(c *Cluster) string {
	return fmt.Sprintf(`version = 2
root = %q
state = %q
oom_score = 0

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
    max_conf_num = 1
`, c.path("containerd/root"), c.path("containerd/state"), c.ContainerdSocket, c.ContainerdSocket+".ttrpc",
		c.path("containerd/opt"), sandboxRef, c.path("cni/net.d"))
}

// cniConfig is a bridge with host-local addresses plus the firewall
// plugin: Docker's FORWARD policy drops, and the plugin's accept rules let
// Pods reach each other (the drop rule in CNI-ADMIN keeps them from
// anything outside the bridge).
func cniConfig(c *Cluster) string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "podlife-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": %q,
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": %q,
        "ranges": [[{"subnet": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "firewall", "backend": "iptables"}
  ]
}
`, podBridge, c.path("cni/ipam"), PodCIDR)
}

func kubeletConfig(c *Cluster) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: %d
readOnlyPort: 0
healthzPort: 0
failCgroupV1: false
cgroupDriver: cgroupfs
protectKernelDefaults: false
failSwapOn: false
resolvConf: ""
clusterDNS: []
containerRuntimeEndpoint: unix://%s
podLogsDir: %s
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
  x509:
    clientCAFile: %s
authorization:
  mode: AlwaysAllow
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "2%%"
  nodefs.inodesFree: "2%%"
  imagefs.available: "2%%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
registerNode: true
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
oomScoreAdj: 0
`, nodeIP, kubeletPort, c.ContainerdSocket, c.path("pod-logs"), c.pki.path("ca.crt"))
}

func kubeProxyConfig(c *Cluster, healthz, metrics int) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection:
  kubeconfig: %s
hostnameOverride: %s
bindAddress: %s
clusterCIDR: %s
healthzBindAddress: 127.0.0.1:%d
metricsBindAddress: 127.0.0.1:%d
nodePortAddresses: ["%s/32"]
oomScoreAdj: 0
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
  udpTimeout: 0s
  udpStreamTimeout: 0s
nftables:
  syncPeriod: 30s
  minSyncPeriod: 0s
`, c.kubeconfigFor("kube-proxy"), NodeName, nodeIP, PodCIDR, healthz, metrics, nodeIP)
}

// kubeconfig is a client configuration for the certificate NAME.crt.
func (c *Cluster) writeKubeconfig(name string) error {
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: podlife-e2e
  cluster:
    server: https://%s:%d
    certificate-authority: %s
contexts:
- name: podlife-e2e
  context:
    cluster: podlife-e2e
    user: %s
current-context: podlife-e2e
users:
- name: %s
  user:
    client-certificate: %s
    client-key: %s
`, nodeIP, apiPort, c.pki.path("ca.crt"), name, name, c.pki.path(name+".crt"), c.pki.path(name+".key"))
	return os.WriteFile(c.kubeconfigFor(name), []byte(cfg), 0o600)
}

func (c *Cluster) kubeconfigFor(name string) string { return c.path("kubeconfig/" + name) }

// kubeletScript runs kubelet in its own mount namespace (unshare --mount,
// propagation unchanged so that its volume mounts under the shared root
// dir reach containerd), where the three machine-wide sysctls kubelet
// wants to set are bind-mounted over by files already holding its values:
// it finds nothing to write, and nothing on the shared machine changes.
func kubeletScript(c *Cluster, kubelet string, args []string) string {
	var b strings.Builder
	b.WriteString("set -e\nmount --make-private /proc\n")
	for _, s := range kubeletSysctls() {
		fmt.Fprintf(&b, "mount --bind %s /proc/sys/%s\n", c.path("sysctl/"+strings.ReplaceAll(s.name, "/", "_")), s.name)
	}
	b.WriteString("exec " + kubelet)
	for _, a := range args {
		b.WriteString(" '" + a + "'")
	}
	b.WriteString("\n")
	return b.String()
}

// kubeletSysctls are the machine-wide sysctls kubelet sets, with the
// values it wants.
func kubeletSysctls() []struct{ name, value string } {
	return []struct{ name, value string }{
		{"vm/overcommit_memory", "1"},
		{"kernel/panic", "10"},
		{"kernel/panic_on_oops", "1"},
	}
}
