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
