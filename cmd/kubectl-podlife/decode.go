package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	kjson "sigs.k8s.io/json"
)

// object is one Kubernetes object of the input: a document, or an item of
// a List document.
type object struct {
	doc        *document
	node       *yaml.Node // the object's mapping
	prefix     string     // its path in the document: "" or "items[3]"
	apiVersion string
	kind       string
	name       string
	namespace  string
	typed      any // *appsv1.Deployment, *corev1.Service, …; nil for a kind podlife does not check
	strict     []strictProblem
}

// strictProblem is a field the API server would reject or ignore: unknown
// or duplicated.
type strictProblem struct {
	path string // in the object: "spec.template.spec.terminationGracePeriod"
	line int    // in the document, when known better than the path tells
	msg  string
	fix  string
	dup  bool // a duplicated field: which copy an editor should change is unclear
}

// ref names the object in a finding: "Deployment/web".
func (o *object) ref() string { return o.kind + "/" + o.name }

// line returns the line in the file of the field at path ("spec.replicas",
// "spec.template.spec.containers[0].lifecycle"): the deepest node of the
// path that exists, so a missing field points at its parent.
func (o *object) line(path string) int {
	n := o.node
	for _, seg := range splitPath(path) {
		next := child(n, seg)
		if next == nil {
			break
		}
		n = next
	}
	return o.doc.absLine(n.Line)
}

// splitPath splits "a.b[2].c" into "a", "b", "[2]", "c".
func splitPath(path string) []string {
	var segs []string
	for _, part := range strings.Split(path, ".") {
		for part != "" {
			i := strings.IndexByte(part, '[')
			switch {
			case i < 0:
				segs = append(segs, part)
				part = ""
			case i > 0:
				segs = append(segs, part[:i])
				part = part[i:]
			default:
				j := strings.IndexByte(part, ']')
				if j < 0 {
					return segs
				}
				segs = append(segs, part[:j+1])
				part = part[j+1:]
			}
		}
	}
	return segs
}

// child returns the value of key seg in a mapping, or item [i] of a sequence.
func child(n *yaml.Node, seg string) *yaml.Node {
	n = deref(n)
	if n == nil {
		return nil
	}
	if strings.HasPrefix(seg, "[") {
		i, err := strconv.Atoi(strings.Trim(seg, "[]"))
		if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
			return nil
		}
		return n.Content[i]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == seg {
			return n.Content[i+1]
		}
	}
	return nil
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return n.Content[0]
	}
	return n
}

// newTyped returns a pointer to the k8s.io/api type of apiVersion and kind,
// for the kinds the rules read; nil for the others, which are passed over.
func newTyped(apiVersion, kind string) any {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}
	case "apps/v1 DaemonSet":
		return &appsv1.DaemonSet{}
	case "apps/v1 ReplicaSet":
		return &appsv1.ReplicaSet{}
	case "batch/v1 Job":
		return &batchv1.Job{}
	case "batch/v1 CronJob":
		return &batchv1.CronJob{}
	case "v1 Pod":
		return &corev1.Pod{}
	case "v1 Service":
		return &corev1.Service{}
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}
	case "v1 Secret":
		return &corev1.Secret{}
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	}
	return nil
}

// decodeObjects turns the documents into objects: each is converted to
// JSON and decoded strictly into its k8s.io/api type. Unknown and
// duplicated fields are kept as strictProblems (findings); anything that
// does not fit the type at all is an *inputError naming the document.
func decodeObjects(docs []*document) ([]*object, error) {
	var objs []*object
	for _, d := range docs {
		more, err := decodeNode(d, deref(d.root), "")
		if err != nil {
			return nil, err
		}
		objs = append(objs, more...)
	}
	return objs, nil
}

// maxNodes bounds the values one document may expand to through aliases
// (a "billion laughs" document is a few lines long).
const maxNodes = 1 << 18

func decodeNode(d *document, n *yaml.Node, prefix string) ([]*object, error) {
	where := d.where()
	if prefix != "" {
		where += ": " + prefix
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, inputErrorf("%s: not a Kubernetes object; want a mapping with apiVersion and kind", where)
	}
	conv := converter{budget: maxNodes}
	v, err := conv.value(n, "")
	if err != nil {
		return nil, inputErrorf("%s: %v", where, err)
	}
	m := v.(map[string]any)
	apiVersion, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	if apiVersion == "" || kind == "" {
		return nil, inputErrorf("%s: no apiVersion or kind; want a Kubernetes object", where)
	}
	if strings.HasSuffix(kind, "List") {
		items := child(n, "items")
		if items = deref(items); items != nil && items.Kind == yaml.SequenceNode {
			var objs []*object
			for i, it := range items.Content {
				p := fmt.Sprintf("%sitems[%d]", prefixDot(prefix), i)
				more, err := decodeNode(d, deref(it), p)
				if err != nil {
					return nil, err
				}
				objs = append(objs, more...)
			}
			return objs, nil
		}
	}
	o := &object{doc: d, node: n, prefix: prefix, apiVersion: apiVersion, kind: kind}
	if md, ok := m["metadata"].(map[string]any); ok {
		o.name, _ = md["name"].(string)
		o.namespace, _ = md["namespace"].(string)
	}
	for _, p := range conv.dups {
		o.strict = append(o.strict, strictProblem{path: p.path, line: p.line, msg: fmt.Sprintf("duplicate field %q", p.path),
			fix: "keep one (the API server takes the last, kubectl apply --validate=strict rejects it)", dup: true})
	}
	o.typed = newTyped(apiVersion, kind)
	if o.typed == nil {
		return []*object{o}, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, inputErrorf("%s: %v", where, err)
	}
	strictErrs, err := kjson.UnmarshalStrict(data, o.typed, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, inputErrorf("%s: %s %s: %s", where, kind, o.name, strings.TrimPrefix(err.Error(), "json: "))
	}
	for _, e := range strictErrs {
		p := e.Error()
		if fe, ok := e.(kjson.FieldError); ok {
			p = fe.FieldPath()
		}
		o.strict = append(o.strict, strictProblem{path: p, msg: fmt.Sprintf("unknown field %q", p),
			fix: "fix its spelling or place (the API server drops it, kubectl apply --validate=strict rejects it)"})
	}
	return []*object{o}, nil
}

func prefixDot(p string) string {
	if p == "" {
		return ""
	}
	return p + "."
}

// converter turns a YAML node tree into the values encoding/json writes,
// the way kubectl does (YAML to JSON), noting duplicate keys.
type converter struct {
	budget int
	depth  int
	active map[*yaml.Node]bool // aliased nodes being converted: a cycle if met again
	dups   []dupKey
}

// maxDepth bounds the nesting of a document; real objects nest a dozen deep.
const maxDepth = 256

// dupKey is a key written twice in one mapping: its path and second line.
type dupKey struct {
	path string
	line int
}

func (c *converter) value(n *yaml.Node, path string) (any, error) {
	if c.budget--; c.budget < 0 {
		return nil, fmt.Errorf("more than %d values (aliases expanding without end?)", maxNodes)
	}
	if c.depth++; c.depth > maxDepth {
		return nil, fmt.Errorf("line %d: nested more than %d deep", n.Line, maxDepth)
	}
	defer func() { c.depth-- }()
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0], path)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fmt.Errorf("line %d: unknown alias", n.Line)
		}
		if c.active[n.Alias] {
			return nil, fmt.Errorf("line %d: alias *%s refers to itself", n.Line, n.Value)
		}
		if c.active == nil {
			c.active = map[*yaml.Node]bool{}
		}
		c.active[n.Alias] = true
		defer delete(c.active, n.Alias)
		return c.value(n.Alias, path)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, it := range n.Content {
			v, err := c.value(it, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				if err := c.merge(out, vn, path); err != nil {
					return nil, err
				}
				continue
			}
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a key that is not a string", k.Line)
			}
			p := prefixDot(path) + k.Value
			if _, dup := out[k.Value]; dup {
				c.dups = append(c.dups, dupKey{p, k.Line})
			}
			v, err := c.value(vn, p)
			if err != nil {
				return nil, err
			}
			out[k.Value] = v
		}
		return out, nil
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// merge applies a "<<" merge key: keys already set win.
func (c *converter) merge(out map[string]any, n *yaml.Node, path string) error {
	n = deref(n)
	srcs := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		srcs = n.Content
	}
	for _, s := range srcs {
		v, err := c.value(s, path)
		if err != nil {
			return err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("line %d: a merge key takes a mapping", s.Line)
		}
		for k, v := range m {
			if _, set := out[k]; !set {
				out[k] = v
			}
		}
	}
	return nil
}

func scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, fmt.Errorf("line %d: %v", n.Line, err)
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return json.Number(strconv.FormatInt(i, 10)), nil
		}
		var u uint64
		if err := n.Decode(&u); err == nil {
			return json.Number(strconv.FormatUint(u, 10)), nil
		}
		return nil, fmt.Errorf("line %d: %q is out of range", n.Line, n.Value)
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, fmt.Errorf("line %d: %v", n.Line, err)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("line %d: %s has no JSON form; quote it if it is a string", n.Line, n.Value)
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	}
	return n.Value, nil // !!str, !!timestamp, !!binary and custom tags: the text
}
