package cluster

import (
	"slices"
	"testing"
)

func TestSplitRule(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{`-A INPUT -j KUBE-FIREWALL`, []string{"-A", "INPUT", "-j", "KUBE-FIREWALL"}},
		{`-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD`,
			[]string{"-A", "FORWARD", "-m", "comment", "--comment", "CNI firewall plugin rules", "-j", "CNI-FORWARD"}},
		{`-A X -m comment --comment "say \"hi\"" -j DROP`, []string{"-A", "X", "-m", "comment", "--comment", `say "hi"`, "-j", "DROP"}},
		{`-A X -m comment --comment "" -j DROP`, []string{"-A", "X", "-m", "comment", "--comment", "", "-j", "DROP"}},
	} {
		if got := splitRule(tc.line); !slices.Equal(got, tc.want) {
			t.Errorf("splitRule(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestRuleOwned(t *testing.T) {
	for _, tc := range []struct {
		line string
		want bool
	}{
		{`-N KUBE-FIREWALL`, true},
		{`-A INPUT -j KUBE-FIREWALL`, true},
		{`-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD`, true},
		{`-A CNI-ADMIN -i pl-cni0 ! -o pl-cni0 -j DROP`, true},
		{`-N DOCKER`, false},
		{`-A FORWARD -j DOCKER-USER`, false},
		{`-A DOCKER -d 172.17.0.2/32 -j ACCEPT`, false},
		{`-P FORWARD DROP`, false},
	} {
		if got := ruleOwned(tc.line); got != tc.want {
			t.Errorf("ruleOwned(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

// TestHostDiff: a teardown that left one thing behind (or removed one
// thing that was there) is named; Docker's own comings and goings are not.
func TestHostDiff(t *testing.T) {
	before := hostState{
		Links:     []string{"lo", "eth0", "docker0"},
		NFTTables: []string{"ip filter", "ip nat"},
		IPTables:  map[string][]string{"iptables filter": {"-P INPUT ACCEPT", "-N DOCKER"}},
		Mounts:    []string{"/", "/proc"},
		Cgroups:   []string{"/sys/fs/cgroup/system.slice"},
		Paths:     []string{"/var/lib/kubelet"},
	}
	clone := func() hostState {
		h := before
		h.Links = slices.Clone(before.Links)
		h.IPTables = map[string][]string{"iptables filter": slices.Clone(before.IPTables["iptables filter"])}
		h.Mounts = slices.Clone(before.Mounts)
		return h
	}
	docker := func(l string) bool { return l == "vethd0c" }
	if d := hostDiff(before, clone(), docker); len(d) != 0 {
		t.Errorf("no change: got %q, want none", d)
	}
	same := clone()
	same.Links = append(same.Links, "vethd0c", "br-1234")
	same.Mounts = append(same.Mounts, "/run/docker/netns/abc", "/var/lib/docker/overlay2/x/merged")
	same.IPTables["iptables filter"] = append(same.IPTables["iptables filter"], "-A DOCKER -d 172.17.0.2/32 -j ACCEPT")
	if d := hostDiff(before, same, docker); len(d) != 0 {
		t.Errorf("only Docker's changes: got %q, want none", d)
	}
	left := clone()
	left.Links = append(left.Links, "pl-cni0")
	left.IPTables["iptables filter"] = append(left.IPTables["iptables filter"], "-N KUBE-FIREWALL")
	left.Mounts = left.Mounts[:1] // /proc gone
	left.NFTTables = []string{"ip filter", "ip nat", "ip kube-proxy"}
	d := hostDiff(before, left, docker)
	want := []string{`link "pl-cni0" created`, `nft table "ip kube-proxy" created`, `iptables filter rule "-N KUBE-FIREWALL" created`, `mount "/proc" removed`}
	if !slices.Equal(d, want) {
		t.Errorf("got %q, want %q", d, want)
	}
}
