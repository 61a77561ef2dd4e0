package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Deliveries: how the binaries reach the app container.
const (
	deliveryInit  = "init-container" // an init container copies them into an emptyDir
	deliveryImage = "image-volume"   // the toolkit image mounted as a volume (Kubernetes 1.35)
	deliveryBaked = "image"          // the app image has them at /podlife (COPY --from)
)

// injectOptions is inject's validated command line.
type injectOptions struct {
	delivery string
	image    string
	warmup   []string
	notify   string
	ready    []string
}

// binDir is where the app container finds the binaries.
func (o injectOptions) binDir() string {
	if o.delivery == deliveryInit {
		return "/podlife-bin"
	}
	return "/podlife"
}

// defaultImage is the toolkit image of the plugin's own release
// (go install …@v1.2.0 gives :v1.2.0); a development build or a
// pseudo-version gives :dev, the tag `make image` builds.
func defaultImage() string {
	return imageFor(buildVersion())
}

func imageFor(v string) string {
	if !releaseRE.MatchString(v) {
		v = "dev"
	}
	return "ghcr.io/podlife/podlife:" + v
}

// releaseRE matches a release tag, and no pseudo-version such as
// v0.0.0-20261129033000-abcdef123456.
var releaseRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-(alpha|beta|rc)\.?[0-9]*)?$`)

func runInject(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inject", flag.ContinueOnError)
	var in inputFlags
	in.register(fs)
	var o injectOptions
	var warmup, ready list
	fs.StringVar(&o.delivery, "delivery", deliveryInit, "how the binaries reach the app: init-container, image-volume (Kubernetes 1.35) or image (already at /podlife)")
	fs.StringVar(&o.image, "image", defaultImage(), "the podlife toolkit image `REF` (pin a tag or a digest)")
	fs.Var(&warmup, "warmup", "warm up with load on this `URL` in postStart (127.0.0.1); repeatable")
	fs.StringVar(&o.notify, "notify", "", "preStop first POSTs this `URL` (a package lifecycle app's http://127.0.0.1:PORT/drainz)")
	fs.Var(&ready, "ready", "readiness checks this `TARGET` (any probe target); repeatable; an exec probe when a native one cannot express it")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	o.warmup, o.ready = warmup, ready
	if err := o.validate(); err != nil {
		return err
	}
	if len(in.files) == 0 {
		return usagef("no input; want -f FILE, -f DIR or -f - for stdin")
	}
	docs, err := readInputs(in.files, in.recursive, stdin)
	if err != nil {
		return err
	}
	objs, err := decodeObjects(docs)
	if err != nil {
		return err
	}
	changed := map[*document]bool{}
	cs := newConfigSource(objs)
	for _, obj := range objs {
		ok, err := o.inject(obj, cs)
		var skip *skipped
		if errors.As(err, &skip) {
			fmt.Fprintf(stderr, "kubectl-podlife: %s: %s: left as is: %s\n", obj.doc.where(), obj.ref(), skip.why)
			continue
		}
		if err != nil {
			return err
		}
		changed[obj.doc] = changed[obj.doc] || ok
	}
	var buf bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		if !changed[d] && !d.json {
			buf.Write(d.raw)
			if !bytes.HasSuffix(d.raw, []byte("\n")) {
				buf.WriteByte('\n')
			}
			continue
		}
		if d.json {
			blockStyle(d.root)
		}
		spellNulls(d.root)
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(d.root); err != nil {
			return inputErrorf("%s: %v", d.where(), err)
		}
		enc.Close()
	}
	_, err = stdout.Write(buf.Bytes())
	return err
}

func (o *injectOptions) validate() error {
	switch o.delivery {
	case deliveryInit, deliveryImage, deliveryBaked:
	default:
		return usagef("--delivery %q: want init-container, image-volume or image", o.delivery)
	}
	if strings.TrimSpace(o.image) == "" || strings.ContainsAny(o.image, " \t\n") {
		return usagef("--image %q: want an image reference such as ghcr.io/podlife/podlife:v1", o.image)
	}
	for _, u := range o.warmup {
		if err := loopbackURL("--warmup", u, "http", "https", "grpc", "grpcs"); err != nil {
			return err
		}
	}
	if o.notify != "" {
		if err := loopbackURL("--notify", o.notify, "http", "https"); err != nil {
			return err
		}
	}
	for _, t := range o.ready {
		if err := loopbackURL("--ready", t, "http", "https", "tcp", "grpc", "grpcs", "unix", "file"); err != nil {
			return err
		}
	}
	return nil
}

// loopbackURL checks a target: a scheme the tools know, and 127.0.0.1 —
// hooks and exec probes run inside the container, and the Pod IP is not
// set while postStart runs.
func loopbackURL(flagName, raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return usagef("%s %q: want a URL such as http://127.0.0.1:8080/", flagName, raw)
	}
	if !slices.Contains(schemes, u.Scheme) {
		return usagef("%s %q: want a %s:// URL", flagName, raw, strings.Join(schemes, "://, "))
	}
	if u.Scheme == "unix" || u.Scheme == "file" {
		return nil
	}
	if h := u.Hostname(); h != "localhost" && (net.ParseIP(h) == nil || !net.ParseIP(h).IsLoopback()) {
		return usagef("%s %q: want host 127.0.0.1 (hooks and exec probes run in the container; the Pod IP is unset during postStart)", flagName, raw)
	}
	return nil
}

// inject wires podlife into obj if it is a long-running workload; it
// reports whether anything changed.
func (o injectOptions) inject(obj *object, cs configSource) (bool, error) {
	w, ok := asWorkload(obj, assumedDefaults())
	if !ok || !w.serves || len(w.spec.Containers) == 0 {
		return false, nil
	}
	for _, p := range obj.strict {
		if p.dup {
			return false, &skipped{fmt.Sprintf("field %q is there twice; the API server takes the last copy, inject would edit the first: keep one", p.path)}
		}
	}
	spec := obj.node
	for _, seg := range splitPath(w.specPath) {
		if spec = child(spec, seg); spec == nil {
			return false, nil
		}
	}
	spec = deref(spec)
	containers := deref(child(spec, "containers"))
	mergeKey := &skipped{"its Pod spec takes fields from a YAML merge key (<<), which inject would shadow"}
	if spec.Kind != yaml.MappingNode || hasMerge(spec) || containers == nil || containers.Kind != yaml.SequenceNode || len(containers.Content) != len(w.spec.Containers) {
		return false, mergeKey
	}
	for _, c := range containers.Content {
		if hasMerge(deref(c)) {
			return false, mergeKey
		}
	}
	changed := false
	if o.delivery != deliveryBaked {
		changed = o.deliver(spec) || changed
	}
	for _, i := range appContainers(w.spec) {
		c := &w.spec.Containers[i]
		cn := deref(containers.Content[i])
		changed = o.wire(cn, c) || changed
	}
	// The grace period must hold the hooks, new or not: re-read the object
	// as it now is, and raise terminationGracePeriodSeconds to the largest
	// budget.
	again, err := decodeNode(obj.doc, obj.node, obj.prefix)
	if err != nil {
		return false, err
	}
	w2, _ := asWorkload(again[0], assumedDefaults())
	grace := w2.gracePeriod(assumedDefaults())
	need := grace
	told := map[int]time.Duration{} // the containers told the grace period (graceEnv): what they are told
	for i := range w2.spec.Containers {
		c := &w2.spec.Containers[i]
		env, _, _ := cs.environment(obj.namespace, c, "")
		var bad []badSetting
		b := containerBudget(c, env, grace, assumedDefaults(), &bad)
		if (b.HasHook || b.Lifecycle) && b.Total() > need {
			need = b.Total()
		}
		if env[graceEnv] != "" {
			told[i] = b.Told
		}
	}
	if need > grace {
		g := time.Duration(ceilSeconds(need)) * time.Second
		mapSet(spec, "terminationGracePeriodSeconds", scalarNode(fmt.Sprint(ceilSeconds(need)), "!!int"))
		for i, t := range told {
			if t != g {
				tellGrace(deref(containers.Content[i]), seconds(g), obj.doc.json)
			}
		}
		changed = true
	}
	return changed, nil
}

// tellGrace sets graceEnv to grace in container cn's env: in the entry that
// sets it (the last, which wins), else in a new one, which wins over
// envFrom.
func tellGrace(cn *yaml.Node, grace string, fromJSON bool) {
	env := ensure(cn, "env", yaml.SequenceNode)
	var e *yaml.Node
	for _, it := range env.Content {
		if v := child(it, "name"); v != nil && v.Value == graceEnv {
			e = deref(it)
		}
	}
	if e == nil {
		e = snippet("name: " + graceEnv + "\n")
		env.Content = append(env.Content, e)
	}
	mapDelete(e, "valueFrom")
	mapSet(e, "value", scalarNode(grace, "!!str"))
	// A comment, unless it would break a flow sequence's line (a JSON
	// document comes out in block style).
	if e.HeadComment == "" && (fromJSON || env.Style&yaml.FlowStyle == 0) {
		e.HeadComment = "# terminationGracePeriodSeconds, which inject raised: the app checks its shutdown budget against it."
	}
}

// appContainers returns the containers to wire: those that serve a port,
// or the first when none declares one.
func appContainers(spec *corev1.PodSpec) []int {
	var idx []int
	for i, c := range spec.Containers {
		if len(c.Ports) > 0 {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		idx = []int{0}
	}
	return idx
}

// deliver adds the volume (and the init container) that bring the binaries.
func (o injectOptions) deliver(spec *yaml.Node) bool {
	changed := false
	volumes := ensure(spec, "volumes", yaml.SequenceNode)
	if findNamed(volumes, "podlife") == nil {
		v := snippet("name: podlife\nemptyDir:\n  sizeLimit: 64Mi\n")
		if o.delivery == deliveryImage {
			v = snippet("name: podlife\nimage:\n  reference: REF\n  pullPolicy: IfNotPresent\n")
			mapSet(child(v, "image"), "reference", scalarNode(o.image, "!!str"))
		}
		volumes.Content = append(volumes.Content, v)
		changed = true
	}
	if o.delivery == deliveryInit {
		inits := ensure(spec, "initContainers", yaml.SequenceNode)
		if findNamed(inits, "podlife") == nil {
			ic := snippet(`name: podlife
image: REF
# Copies probe, warmup and prestop into the emptyDir; safe to re-run.
command: ["/podlife/install", "/podlife-bin"]
volumeMounts:
  - name: podlife
    mountPath: /podlife-bin
resources:
  requests:
    cpu: 10m
    memory: 16Mi
  limits:
    memory: 32Mi
securityContext:
  runAsNonRoot: true
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: ["ALL"]
`)
			mapSet(ic, "image", scalarNode(o.image, "!!str"))
			inits.Content = append(inits.Content, ic)
			changed = true
		}
	}
	return changed
}

// wire adds the mount, the hooks and the readiness probe to one container.
func (o injectOptions) wire(cn *yaml.Node, c *corev1.Container) bool {
	changed := false
	bin := o.binDir()
	if o.delivery != deliveryBaked {
		mounts := ensure(cn, "volumeMounts", yaml.SequenceNode)
		if findNamed(mounts, "podlife") == nil {
			m := fmt.Sprintf("name: podlife\nmountPath: %s\nreadOnly: true\n", bin)
			if o.delivery == deliveryImage {
				m = "name: podlife\nmountPath: /podlife\nsubPath: podlife\nreadOnly: true\n"
			}
			mounts.Content = append(mounts.Content, snippet(m))
			changed = true
		}
	}
	lc := c.Lifecycle
	if lc == nil || lc.PreStop == nil {
		cmd := []string{bin + "/prestop"}
		if o.notify != "" {
			cmd = append(cmd, "--notify="+o.notify)
		}
		cmd = append(cmd, "--sleep="+seconds(injectSleep))
		hooks := ensure(cn, "lifecycle", yaml.MappingNode)
		mapSet(hooks, "preStop", execNode(cmd, "# Keeps serving while the endpoint leaves every load balancer, then SIGTERM."))
		changed = true
	}
	if (lc == nil || lc.PostStart == nil) && len(o.warmup) > 0 {
		cmd := []string{bin + "/warmup", "--wait=" + waitTarget(c, o.warmup[0]), "--timeout=" + seconds(injectWarmupTimeout),
			fmt.Sprintf("--requests=%d", injectRequests), "--log-to-pid1"}
		cmd = append(cmd, o.warmup...)
		hooks := ensure(cn, "lifecycle", yaml.MappingNode)
		mapSet(hooks, "postStart", execNode(cmd, "# Bounded by --timeout and fail-open: a warm-up never crash-loops the Pod."))
		changed = true
	}
	if len(o.ready) > 0 {
		changed = o.readiness(cn, c, bin) || changed
	}
	return changed
}

// readiness sets the readiness check to the --ready targets: one native
// probe when it can express them, podlife's probe otherwise (several
// targets, TLS gRPC, unix sockets, files).
func (o injectOptions) readiness(cn *yaml.Node, c *corev1.Container, bin string) bool {
	want, key := nativeHandler(o.ready)
	if want == nil {
		cmd := append([]string{bin + "/probe"}, o.ready...)
		want, key = &corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}}, "exec"
	}
	if p := c.ReadinessProbe; p != nil && sameHandler(p.ProbeHandler, *want) {
		return false
	}
	rp := deref(child(cn, "readinessProbe"))
	if rp == nil || rp.Kind != yaml.MappingNode {
		rp = snippet("periodSeconds: 2\nfailureThreshold: 2\n")
		mapSet(cn, "readinessProbe", rp)
	}
	for _, k := range []string{"exec", "httpGet", "tcpSocket", "grpc"} {
		mapDelete(rp, k)
	}
	var hv *yaml.Node
	switch key {
	case "exec":
		hv = execNode(want.Exec.Command, "").Content[1]
	case "httpGet":
		hv = snippet(fmt.Sprintf("path: %s\nport: %d\n", yamlString(want.HTTPGet.Path), want.HTTPGet.Port.IntVal))
		if want.HTTPGet.Scheme == corev1.URISchemeHTTPS {
			mapSet(hv, "scheme", scalarNode("HTTPS", "!!str"))
		}
	case "tcpSocket":
		hv = snippet(fmt.Sprintf("port: %d\n", want.TCPSocket.Port.IntVal))
	case "grpc":
		hv = snippet(fmt.Sprintf("port: %d\n", want.GRPC.Port))
		if s := ptrString(want.GRPC.Service); s != "" {
			mapSet(hv, "service", scalarNode(s, "!!str"))
		}
	}
	rp.Content = append([]*yaml.Node{scalarNode(key, "!!str"), hv}, rp.Content...)
	return true
}

// nativeHandler returns the native probe for a single target it can
// express, and the handler's key.
func nativeHandler(targets []string) (*corev1.ProbeHandler, string) {
	if len(targets) != 1 {
		return nil, ""
	}
	u, err := url.Parse(targets[0])
	if err != nil || u.Port() == "" || u.RawQuery != "" || u.User != nil {
		return nil, ""
	}
	port := intstr.Parse(u.Port())
	if port.Type != intstr.Int {
		return nil, ""
	}
	switch u.Scheme {
	case "http":
		return &corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: cmpOr(u.Path, "/"), Port: port}}, "httpGet"
	case "tcp":
		return &corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}}, "tcpSocket"
	case "grpc":
		var svc *string
		if s := strings.TrimPrefix(u.Path, "/"); s != "" {
			svc = &s
		}
		return &corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: port.IntVal, Service: svc}}, "grpc"
	}
	return nil, "" // https (the native probe does not verify the certificate), grpcs, unix, file
}

func sameHandler(a, b corev1.ProbeHandler) bool {
	switch {
	case a.Exec != nil && b.Exec != nil:
		return slices.Equal(a.Exec.Command, b.Exec.Command)
	case a.HTTPGet != nil && b.HTTPGet != nil:
		return a.HTTPGet.Path == b.HTTPGet.Path && a.HTTPGet.Port == b.HTTPGet.Port && a.HTTPGet.Host == "" && a.HTTPGet.Scheme == b.HTTPGet.Scheme
	case a.TCPSocket != nil && b.TCPSocket != nil:
		return a.TCPSocket.Port == b.TCPSocket.Port && a.TCPSocket.Host == ""
	case a.GRPC != nil && b.GRPC != nil:
		return a.GRPC.Port == b.GRPC.Port && ptrString(a.GRPC.Service) == ptrString(b.GRPC.Service)
	}
	return false
}

// waitTarget is what warmup waits for before its load: the startup or
// readiness probe's HTTP endpoint or TCP port, else the first load URL.
func waitTarget(c *corev1.Container, fallback string) string {
	for _, p := range []*corev1.Probe{c.StartupProbe, c.ReadinessProbe} {
		switch {
		case p == nil:
		case p.HTTPGet != nil && p.HTTPGet.Scheme != corev1.URISchemeHTTPS:
			return fmt.Sprintf("http://127.0.0.1:%s%s", portNumber(c, p.HTTPGet.Port), cmpOr(p.HTTPGet.Path, "/"))
		case p.TCPSocket != nil:
			return fmt.Sprintf("tcp://127.0.0.1:%s", portNumber(c, p.TCPSocket.Port))
		}
	}
	return fallback
}

// skipped is a workload inject leaves as it is, and why: a note on stderr.
type skipped struct{ why string }

func (s *skipped) Error() string { return s.why }

// hasMerge reports whether mapping n takes keys from a YAML merge key
// ("<<: *base"): inject would shadow what it merges, so it leaves it alone.
func hasMerge(n *yaml.Node) bool {
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Tag == "!!merge" {
			return true
		}
	}
	return false
}

// seconds writes a whole-second duration as "60s", not "1m0s".
func seconds(d time.Duration) string { return fmt.Sprintf("%ds", int64(d/time.Second)) }

// YAML node helpers.

// snippet parses a YAML mapping written in Go source.
func snippet(text string) *yaml.Node {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		panic("kubectl-podlife: bad snippet: " + err.Error()) // a bug in this file, never input
	}
	return n.Content[0]
}

func scalarNode(v, tag string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v}
}

// yamlString quotes s if YAML would read it as something else.
func yamlString(s string) string {
	n := scalarNode(s, "!!str")
	out, err := yaml.Marshal(n)
	if err != nil {
		return fmt.Sprintf("%q", s)
	}
	return strings.TrimSpace(string(out))
}

// execNode returns {exec: {command: [...]}} with a head comment.
func execNode(cmd []string, comment string) *yaml.Node {
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, a := range cmd {
		seq.Content = append(seq.Content, scalarNode(a, "!!str"))
	}
	exec := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{scalarNode("command", "!!str"), seq}}
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{scalarNode("exec", "!!str"), exec}}
	m.HeadComment = comment
	return m
}

// ensure returns the value of key in mapping m, adding an empty one of
// kind if missing.
func ensure(m *yaml.Node, key string, kind yaml.Kind) *yaml.Node {
	if v := deref(child(m, key)); v != nil && v.Kind == kind {
		return v
	}
	tag := "!!map"
	if kind == yaml.SequenceNode {
		tag = "!!seq"
	}
	v := &yaml.Node{Kind: kind, Tag: tag}
	mapSet(m, key, v)
	return v
}

// mapSet sets key in mapping m, in place if present (a scalar keeps its
// comments), else at the end.
func mapSet(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			if old := m.Content[i+1]; old.Kind == yaml.ScalarNode && v.Kind == yaml.ScalarNode {
				old.Value, old.Tag, old.Style = v.Value, v.Tag, 0
				return
			}
			m.Content[i+1] = v
			return
		}
	}
	k := scalarNode(key, "!!str")
	if v.HeadComment != "" {
		k.HeadComment, v.HeadComment = v.HeadComment, ""
	}
	m.Content = append(m.Content, k, v)
}

func mapDelete(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// findNamed returns the item of a sequence of mappings whose name is name.
func findNamed(seq *yaml.Node, name string) *yaml.Node {
	for _, it := range seq.Content {
		if v := child(it, "name"); v != nil && v.Value == name {
			return it
		}
	}
	return nil
}

// spellNulls writes an empty null as "null": the encoder would print a
// flow mapping's empty value ({0}) as an empty quoted string, which a
// quantity or an integer field does not accept (found by FuzzDecode).
func spellNulls(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Value == "" && n.ShortTag() == "!!null" {
		n.Value = "null"
	}
	for _, c := range n.Content {
		spellNulls(c)
	}
}

// blockStyle turns a JSON document's flow style into YAML's block style.
func blockStyle(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle
	if n.Kind == yaml.ScalarNode && n.Style&yaml.DoubleQuotedStyle != 0 && n.Tag == "!!str" {
		n.Style &^= yaml.DoubleQuotedStyle // the encoder quotes what needs it
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}
