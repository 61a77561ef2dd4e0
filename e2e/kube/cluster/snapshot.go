package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Host paths kubelet and containerd's CNI library write whatever their
// configuration says. What is new under them at the end of a run is
// removed; what was there before stays.
func trackedPaths() []string {
	return []string{"/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/var/lib/cni"}
}

// Runtime directories a run's containerd, its shims and runc make outside
// the run's own, whatever their configuration says, deepest first: removed
// at the end if they are new and empty (Docker's shims may use them too).
func runDirs() []string {
	return []string{"/run/containerd/runc/k8s.io", "/run/containerd/runc", "/run/containerd/s", "/run/containerd", "/var/run/netns", "/run/netns"}
}

// iptables tables whose rules a run may add (kubelet's KUBE-FIREWALL and
// canaries, the CNI firewall plugin's CNI-FORWARD and CNI-ADMIN).
func iptablesTables() []string { return []string{"filter", "nat", "mangle", "raw"} }

// hostState is what exists on the machine before a run: the difference
// after the run is what the run created.
type hostState struct {
	Links     []string            `json:"links"`
	NFTTables []string            `json:"nftTables"`
	IPTables  map[string][]string `json:"iptables"` // "iptables filter" → lines of -S
	Mounts    []string            `json:"mounts"`
	Paths     []string            `json:"paths"`
	Cgroups   []string            `json:"cgroups"`
	RunDirs   []string            `json:"runDirs"`
}

// procRecord identifies a process the run started: its PID and its start
// time, so that a recycled PID is never signalled.
type procRecord struct {
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// state is the harness's record of a run, kept in WORK/state.json so that
// kube-teardown can undo an interrupted run.
type state struct {
	Work       string       `json:"work"`
	Containerd string       `json:"containerd"` // its gRPC socket
	BinDir     string       `json:"binDir"`
	Bridges    []string     `json:"bridges"` // links the run owns by name
	Before     hostState    `json:"before"`
	Procs      []procRecord `json:"procs"`
}

func statePath(work string) string { return filepath.Join(work, "state.json") }

func (s *state) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := statePath(s.Work) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, statePath(s.Work))
}

func loadState(work string) (*state, error) {
	b, err := os.ReadFile(statePath(work))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", statePath(work), err)
	}
	return &s, nil
}

func output(name string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// snapshotHost records the host state a run may change.
func snapshotHost() (hostState, error) {
	var h hostState
	var err error
	if h.Links, err = links(); err != nil {
		return h, err
	}
	if h.NFTTables, err = nftTables(); err != nil {
		return h, err
	}
	h.IPTables = map[string][]string{}
	for _, bin := range []string{"iptables", "ip6tables"} {
		for _, t := range iptablesTables() {
			lines, err := iptablesRules(bin, t)
			if err != nil {
				return h, err
			}
			h.IPTables[bin+" "+t] = lines
		}
	}
	if h.Mounts, err = mountPoints(); err != nil {
		return h, err
	}
	for _, p := range trackedPaths() {
		h.Paths = append(h.Paths, walk(p)...)
	}
	h.Cgroups = topCgroups()
	h.RunDirs = existing(runDirs()...)
	return h, nil
}

func existing(paths ...string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func links() ([]string, error) {
	out, err := output("ip", "-o", "link", "show")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		names = append(names, name)
	}
	return names, nil
}

// linkMaster is the bridge a link is enslaved to, "" if none.
func linkMaster(name string) string {
	t, err := os.Readlink(filepath.Join("/sys/class/net", name, "master"))
	if err != nil {
		return ""
	}
	return filepath.Base(t)
}

func nftTables() ([]string, error) {
	out, err := output("nft", "list", "tables")
	if err != nil {
		return nil, err
	}
	var ts []string
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "table "); ok {
			ts = append(ts, rest)
		}
	}
	return ts, nil
}

func iptablesRules(bin, table string) ([]string, error) {
	out, err := output(bin, "-w", "-t", table, "-S")
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimSpace(out), "\n"), nil
}

func mountPoints() ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var mps []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 {
			mps = append(mps, unescapeMount(f[4]))
		}
	}
	return mps, nil
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// walk lists root and everything under it (nothing if it is missing).
func walk(root string) []string {
	var paths []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		paths = append(paths, p)
		return nil
	})
	return paths
}

// topCgroups lists the top-level cgroups of every v1 hierarchy.
func topCgroups() []string {
	var out []string
	hier, _ := os.ReadDir("/sys/fs/cgroup")
	for _, h := range hier {
		dir := filepath.Join("/sys/fs/cgroup", h.Name())
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
			continue // symlinks such as cpu -> cpu,cpuacct
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.IsDir() {
				out = append(out, filepath.Join(dir, e.Name()))
			}
		}
	}
	return out
}

func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bad stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, errors.New("bad stat")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

func alive(r procRecord) bool {
	st, err := procStart(r.PID)
	return err == nil && st == r.Start
}

// stopProc sends SIGTERM to the recorded process, then SIGKILL after
// grace, and waits until it is gone.
func stopProc(r procRecord, grace time.Duration) {
	if !alive(r) {
		return
	}
	syscall.Kill(r.PID, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for alive(r) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if alive(r) {
		syscall.Kill(r.PID, syscall.SIGKILL)
		for i := 0; i < 100 && alive(r); i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// shims are the containerd shims (and anything else) started for the
// run's containerd: processes whose command line names its socket.
func shims(sock string) []procRecord {
	var out []procRecord
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(b, []byte(sock)) {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if !strings.Contains(filepath.Base(args[0]), "shim") {
			continue
		}
		st, err := procStart(pid)
		if err == nil {
			out = append(out, procRecord{Name: "shim", PID: pid, Start: st})
		}
	}
	return out
}

// podProcesses are the processes in kubepods cgroups that did not exist
// before the run (the pids hierarchy holds every task).
func podProcesses(before []string) []procRecord {
	var out []procRecord
	seen := map[int]bool{}
	for _, cg := range topCgroups() {
		if slices.Contains(before, cg) || !strings.HasPrefix(filepath.Base(cg), "kubepods") {
			continue
		}
		for _, d := range walk(cg) {
			if filepath.Base(d) != "cgroup.procs" {
				continue
			}
			b, _ := os.ReadFile(d)
			for _, f := range strings.Fields(string(b)) {
				pid, err := strconv.Atoi(f)
				if err != nil || seen[pid] {
					continue
				}
				seen[pid] = true
				if st, err := procStart(pid); err == nil {
					out = append(out, procRecord{Name: "container", PID: pid, Start: st})
				}
			}
		}
	}
	return out
}

// ownedChain reports whether an iptables chain is one a run's components
// make (kubelet, kube-proxy, the CNI plugins), never Docker's.
func ownedChain(name string) bool {
	return strings.HasPrefix(name, "KUBE-") || strings.HasPrefix(name, "CNI-")
}

// splitRule splits a line of iptables -S into arguments: words, and
// double-quoted strings (comments) as one argument without their quotes.
func splitRule(line string) []string {
	var args []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == '\\' && inQuote && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case ch == '"':
			inQuote, have = !inQuote, true
		case ch == ' ' && !inQuote:
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(ch)
			have = true
		}
	}
	if have {
		args = append(args, cur.String())
	}
	return args
}

// ruleOwned reports whether a -S line belongs to an owned chain or jumps to one.
func ruleOwned(line string) bool {
	f := strings.Fields(line)
	if len(f) < 2 {
		return false
	}
	if ownedChain(f[1]) {
		return true
	}
	for i, w := range f {
		if (w == "-j" || w == "-g") && i+1 < len(f) && ownedChain(f[i+1]) {
			return true
		}
	}
	return false
}

// restore removes from the host what was created since before, and only
// what a run creates: its own links (by name, or enslaved to its
// bridges), mounts under its directories, owned iptables rules and chains,
// new nft tables holding no Docker chain, new kubepods cgroups and new
// files under the tracked paths.
func restore(s *state, logf func(string, ...any)) error {
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
			logf("%v", err)
		}
	}
	before := s.Before

	// Mounts: deepest first.
	if now, err := mountPoints(); err == nil {
		var gone []string
		for _, m := range now {
			if slices.Contains(before.Mounts, m) {
				continue
			}
			if strings.HasPrefix(m, s.Work+"/") || m == s.Work || strings.HasPrefix(m, "/var/lib/kubelet/") ||
				strings.HasPrefix(m, "/run/netns/cni-") || strings.HasPrefix(m, "/var/run/netns/cni-") {
				gone = append(gone, m)
			}
		}
		sort.Sort(sort.Reverse(sort.StringSlice(gone)))
		for _, m := range slices.Compact(gone) {
			for i := 0; i < 8; i++ { // stacked mounts on one point
				if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
					break
				}
			}
			logf("unmounted %s", m)
		}
	} else {
		note(err)
	}

	// Links: the ports of the run's bridges first, then the bridges.
	if now, err := links(); err == nil {
		var ports, bridges []string
		for _, l := range now {
			switch {
			case slices.Contains(before.Links, l):
			case slices.Contains(s.Bridges, l):
				bridges = append(bridges, l)
			case slices.Contains(s.Bridges, linkMaster(l)):
				ports = append(ports, l)
			}
		}
		for _, l := range append(ports, bridges...) {
			if _, err := output("ip", "link", "del", l); err != nil && !strings.Contains(err.Error(), "Cannot find") {
				note(err)
			} else {
				logf("deleted link %s", l)
			}
		}
	} else {
		note(err)
	}

	// iptables: new owned rules in chains that existed, then new owned chains.
	for _, bin := range []string{"iptables", "ip6tables"} {
		for _, t := range iptablesTables() {
			now, err := iptablesRules(bin, t)
			if err != nil {
				note(err)
				continue
			}
			old := before.IPTables[bin+" "+t]
			var newChains []string
			for _, l := range now {
				if slices.Contains(old, l) || !ruleOwned(l) {
					continue
				}
				f := splitRule(l)
				switch f[0] {
				case "-A":
					if ownedChain(f[1]) && !slices.Contains(old, "-N "+f[1]) {
						continue // flushed with its chain below
					}
					args := append([]string{"-w", "-t", t, "-D"}, f[1:]...)
					if _, err := output(bin, args...); err != nil {
						note(err)
					} else {
						logf("%s -t %s: deleted %s", bin, t, l)
					}
				case "-N":
					newChains = append(newChains, f[1])
				}
			}
			for _, c := range newChains {
				output(bin, "-w", "-t", t, "-F", c)
			}
			for _, c := range newChains {
				if _, err := output(bin, "-w", "-t", t, "-X", c); err != nil {
					note(err)
				} else {
					logf("%s -t %s: deleted chain %s", bin, t, c)
				}
			}
		}
	}

	// nft tables the run created (kube-proxy's, and tables iptables-nft made
	// for kubelet's canaries), unless Docker has put a chain in one since.
	if now, err := nftTables(); err == nil {
		for _, tb := range now {
			if slices.Contains(before.NFTTables, tb) {
				continue
			}
			list, _ := output("nft", append([]string{"list", "table"}, strings.Fields(tb)...)...)
			if strings.Contains(list, "DOCKER") {
				logf("left nft table %s: it holds Docker chains", tb)
				continue
			}
			if _, err := output("nft", append([]string{"delete", "table"}, strings.Fields(tb)...)...); err != nil {
				note(err)
			} else {
				logf("deleted nft table %s", tb)
			}
		}
	} else {
		note(err)
	}

	// cgroups kubelet made (kubepods): children first.
	for _, cg := range topCgroups() {
		if slices.Contains(before.Cgroups, cg) || !strings.HasPrefix(filepath.Base(cg), "kubepods") {
			continue
		}
		dirs := walk(cg)
		sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
		for _, d := range dirs {
			if fi, err := os.Lstat(d); err == nil && fi.IsDir() {
				if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
					note(fmt.Errorf("rmdir %s: %w", d, err))
				}
			}
		}
		logf("removed cgroup %s", cg)
	}

	// Files under the tracked paths: the new ones, deepest first.
	for _, root := range trackedPaths() {
		paths := walk(root)
		sort.Sort(sort.Reverse(sort.StringSlice(paths)))
		n := 0
		for _, p := range paths {
			if slices.Contains(before.Paths, p) {
				continue
			}
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				note(err)
			} else {
				n++
			}
		}
		if n > 0 {
			logf("removed %d new paths under %s", n, root)
		}
	}
	// Runtime directories: only if new and empty (Docker's shims may use them).
	for _, d := range runDirs() {
		if !slices.Contains(before.RunDirs, d) {
			if err := syscall.Rmdir(d); err == nil {
				logf("removed empty %s", d)
			}
		}
	}
	return errors.Join(errs...)
}

// Teardown undoes the run whose state is in work: stops its processes
// and shims by PID, and removes what it created. It is what Cluster.Stop
// runs, and what kube-teardown runs after an interrupted run.
func Teardown(work string, logf func(string, ...any)) error {
	s, err := loadState(work)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing was started, or it was already torn down
	}
	if err != nil {
		return err
	}
	var errs []error
	// kubelet first so it restarts nothing, then the Pods through the CRI
	// (CNI DEL removes their veths, addresses and firewall rules), then the
	// rest of the control plane, containerd and any shim left.
	order := []string{"kubelet", "kube-controller-manager", "kube-scheduler"}
	for _, n := range order {
		for _, p := range s.Procs {
			if p.Name == n {
				stopProc(p, 15*time.Second)
			}
		}
	}
	if s.Containerd != "" && containerdAlive(s) {
		crictl := filepath.Join(s.BinDir, "crictl")
		if _, err := os.Stat(crictl); err == nil {
			ep := "unix://" + s.Containerd
			out, _ := output(crictl, "-r", ep, "-i", ep, "--timeout", "60s", "pods", "-q")
			for _, id := range strings.Fields(out) {
				output(crictl, "-r", ep, "-i", ep, "--timeout", "60s", "stopp", id)
				if _, err := output(crictl, "-r", ep, "-i", ep, "--timeout", "60s", "rmp", "-f", id); err != nil {
					logf("%v", err)
				}
			}
		}
	}
	for i := len(s.Procs) - 1; i >= 0; i-- {
		stopProc(s.Procs[i], 15*time.Second)
	}
	// Containers left running (containerd was gone before their Pods were
	// removed: a crash, an interrupt): their processes are in the kubepods
	// cgroups this run created. Then the shims.
	for _, p := range podProcesses(s.Before.Cgroups) {
		logf("stopping leftover container process %d", p.PID)
		stopProc(p, 5*time.Second)
	}
	if s.Containerd != "" {
		for _, p := range shims(s.Containerd) {
			logf("stopping leftover shim %d", p.PID)
			stopProc(p, 5*time.Second)
		}
	}
	if err := restore(s, logf); err != nil {
		errs = append(errs, err)
	}
	// Then check: the host must be as it was before the run.
	if left := s.leftovers(); len(left) > 0 {
		errs = append(errs, fmt.Errorf("the host differs from before the run: %s", strings.Join(left, "; ")))
	}
	if len(errs) == 0 {
		os.Remove(statePath(work))
	}
	return errors.Join(errs...)
}

// leftovers names what differs on the host from the record taken before
// the run — processes of the run still alive, and every difference in
// links, nft tables, iptables rules, mounts, kubepods cgroups, tracked
// paths and runtime directories — leaving out only what Docker's engine
// makes and unmakes on its own meanwhile.
func (s *state) leftovers() []string {
	var left []string
	for _, p := range s.Procs {
		if alive(p) {
			left = append(left, fmt.Sprintf("process %s (pid %d) still running", p.Name, p.PID))
		}
	}
	if s.Containerd != "" {
		for _, p := range shims(s.Containerd) {
			left = append(left, fmt.Sprintf("shim pid %d still running", p.PID))
		}
	}
	for _, p := range podProcesses(s.Before.Cgroups) {
		left = append(left, fmt.Sprintf("container process %d still running", p.PID))
	}
	now, err := snapshotHost()
	if err != nil {
		return append(left, fmt.Sprintf("cannot read the host's state: %v", err))
	}
	return append(left, hostDiff(s.Before, now, func(l string) bool { return dockerBridge(linkMaster(l)) })...)
}

// dockerBridge reports whether a link name is one of Docker's bridges.
func dockerBridge(name string) bool { return name == "docker0" || strings.HasPrefix(name, "br-") }

// dockerOwned reports whether an entry of a host record (a mount point, a
// cgroup, an iptables rule) is Docker's engine's.
func dockerOwned(entry string) bool {
	for _, p := range []string{"/var/lib/docker/", "/run/docker/", "/run/containerd/io.containerd.runtime.v2.task/moby/"} {
		if strings.HasPrefix(entry, p) {
			return true
		}
	}
	return strings.Contains(entry, "DOCKER") || strings.Contains(entry, "/docker")
}

// hostDiff lists the differences between two records of the host, both
// ways (created since, and removed since), leaving out Docker's: its
// bridges and the links enslaved to them (dockerPort), and what
// dockerOwned names.
func hostDiff(before, after hostState, dockerPort func(link string) bool) []string {
	var out []string
	cmp := func(what string, b, a []string, ignore func(string) bool) {
		for _, x := range a {
			if !slices.Contains(b, x) && !ignore(x) {
				out = append(out, fmt.Sprintf("%s %q created", what, x))
			}
		}
		for _, x := range b {
			if !slices.Contains(a, x) && !ignore(x) {
				out = append(out, fmt.Sprintf("%s %q removed", what, x))
			}
		}
	}
	cmp("link", before.Links, after.Links, func(l string) bool { return dockerBridge(l) || dockerPort(l) })
	cmp("nft table", before.NFTTables, after.NFTTables, func(string) bool { return false })
	var tables []string
	for t := range before.IPTables {
		tables = append(tables, t)
	}
	for t := range after.IPTables {
		if _, ok := before.IPTables[t]; !ok {
			tables = append(tables, t)
		}
	}
	sort.Strings(tables)
	for _, t := range tables {
		cmp(t+" rule", before.IPTables[t], after.IPTables[t], dockerOwned)
	}
	cmp("mount", before.Mounts, after.Mounts, dockerOwned)
	cmp("cgroup", before.Cgroups, after.Cgroups, dockerOwned)
	cmp("path", before.Paths, after.Paths, func(string) bool { return false })
	cmp("directory", before.RunDirs, after.RunDirs, func(string) bool { return false })
	return out
}

func containerdAlive(s *state) bool {
	for _, p := range s.Procs {
		if p.Name == "containerd" && alive(p) {
			return true
		}
	}
	return false
}
