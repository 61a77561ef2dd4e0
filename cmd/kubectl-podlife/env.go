package main

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// configSource is what a container's environment can come from within
// the input: ConfigMaps and Secrets by namespace and name.
type configSource struct {
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

func newConfigSource(objs []*object) configSource {
	cs := configSource{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	for _, o := range objs {
		switch v := o.typed.(type) {
		case *corev1.ConfigMap:
			cs.configMaps[v.Namespace+"/"+v.Name] = v
		case *corev1.Secret:
			cs.secrets[v.Namespace+"/"+v.Name] = v
		}
	}
	return cs
}

func secretValues(s *corev1.Secret) map[string]string {
	m := make(map[string]string, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		m[k] = string(v)
	}
	for k, v := range s.StringData {
		m[k] = v
	}
	return m
}

// missingRef is a ConfigMap or Secret a container reads that the input
// does not hold.
type missingRef struct {
	path string // in the Pod spec, "containers[0].envFrom[1]"
	what string // `ConfigMap "app-config"`
}

// origin is where a container's variable gets its value.
type origin struct {
	path string // the entry that sets it, "containers[0].envFrom[1]" or "containers[0].env[2]"
	what string // the source it reads, `ConfigMap "app-config"`; "" for an env value
}

// environment resolves a container's variables the way kubelet does:
// envFrom in order (later sources win), then env, and says where each
// comes from. Values that only exist at run time (fieldRef,
// resourceFieldRef) are left out.
func (cs configSource) environment(ns string, c *corev1.Container, cpath string) (map[string]string, map[string]origin, []missingRef) {
	env, from := map[string]string{}, map[string]origin{}
	var missing []missingRef
	for i, ref := range c.EnvFrom {
		var vals map[string]string
		var what string
		optional := false
		switch {
		case ref.ConfigMapRef != nil:
			what = fmt.Sprintf("ConfigMap %q", ref.ConfigMapRef.Name)
			optional = ref.ConfigMapRef.Optional != nil && *ref.ConfigMapRef.Optional
			if cm, ok := cs.configMaps[ns+"/"+ref.ConfigMapRef.Name]; ok {
				vals = cm.Data
			}
		case ref.SecretRef != nil:
			what = fmt.Sprintf("Secret %q", ref.SecretRef.Name)
			optional = ref.SecretRef.Optional != nil && *ref.SecretRef.Optional
			if s, ok := cs.secrets[ns+"/"+ref.SecretRef.Name]; ok {
				vals = secretValues(s)
			}
		default:
			continue
		}
		if vals == nil {
			if !optional {
				missing = append(missing, missingRef{fmt.Sprintf("%s.envFrom[%d]", cpath, i), what})
			}
			continue
		}
		for k, v := range vals {
			env[ref.Prefix+k] = v
			from[ref.Prefix+k] = origin{fmt.Sprintf("%s.envFrom[%d]", cpath, i), what}
		}
	}
	for i, e := range c.Env {
		at := fmt.Sprintf("%s.env[%d]", cpath, i)
		if e.ValueFrom == nil {
			env[e.Name], from[e.Name] = e.Value, origin{at, ""}
			continue
		}
		var vals map[string]string
		var key, what string
		optional := false
		switch r := e.ValueFrom; {
		case r.ConfigMapKeyRef != nil:
			key, what = r.ConfigMapKeyRef.Key, fmt.Sprintf("ConfigMap %q", r.ConfigMapKeyRef.Name)
			optional = r.ConfigMapKeyRef.Optional != nil && *r.ConfigMapKeyRef.Optional
			if cm, ok := cs.configMaps[ns+"/"+r.ConfigMapKeyRef.Name]; ok {
				vals = cm.Data
			}
		case r.SecretKeyRef != nil:
			key, what = r.SecretKeyRef.Key, fmt.Sprintf("Secret %q", r.SecretKeyRef.Name)
			optional = r.SecretKeyRef.Optional != nil && *r.SecretKeyRef.Optional
			if s, ok := cs.secrets[ns+"/"+r.SecretKeyRef.Name]; ok {
				vals = secretValues(s)
			}
		default:
			delete(env, e.Name)
			delete(from, e.Name)
			continue
		}
		v, ok := vals[key]
		switch {
		case ok:
			env[e.Name], from[e.Name] = v, origin{at, what}
		case !optional && vals == nil:
			missing = append(missing, missingRef{at, what})
		case !optional:
			missing = append(missing, missingRef{at, fmt.Sprintf("key %q of %s", key, what)})
		}
	}
	return env, from, missing
}

// tool is a podlife binary called from a hook or a probe, read the way the
// binary reads its command line: a flag (--name=v, --name v, -name v)
// wins over the PREFIX_NAME variable.
type tool struct {
	name   string // "prestop", "probe", "warmup"
	args   []string
	env    map[string]string
	prefix string
}

// podlifeTool returns the podlife binary cmd runs, if it runs one.
func podlifeTool(cmd []string, env map[string]string) (tool, bool) {
	if len(cmd) == 0 {
		return tool{}, false
	}
	switch name := path.Base(cmd[0]); name {
	case "prestop", "probe", "warmup":
		return tool{name: name, args: cmd[1:], env: env, prefix: strings.ToUpper(name) + "_"}, true
	}
	return tool{}, false
}

// isBoolFlag reports whether a flag of the binaries takes no value.
func isBoolFlag(name string) bool {
	switch name {
	case "log-to-pid1", "verbose", "insecure", "use-proxy", "strict", "stay", "http2", "h2c", "help", "version":
		return true
	}
	return false
}

// values returns every value of flag name, or the variable's if none.
func (t tool) values(name string) []string {
	vs, _ := t.lookup(name)
	return vs
}

// lookup returns the values of flag name and where they come from: the
// flag ("prestop --sleep") or, when the command line has none, the
// variable ("PRESTOP_SLEEP").
func (t tool) lookup(name string) ([]string, string) {
	var vs []string
	for i := 0; i < len(t.args); i++ {
		arg := t.args[i]
		if arg == "--" {
			break
		}
		n := strings.TrimLeft(arg, "-")
		if n == arg || len(arg)-len(n) > 2 {
			continue
		}
		k, v, hasValue := strings.Cut(n, "=")
		if !hasValue && !isBoolFlag(k) && i+1 < len(t.args) {
			v = t.args[i+1]
			i++
		}
		if k == name {
			vs = append(vs, v)
		}
	}
	if len(vs) > 0 {
		return vs, t.name + " --" + name
	}
	key := t.prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if v, ok := t.env[key]; ok && v != "" {
		vs = strings.Split(strings.TrimSpace(v), "\n")
	}
	return vs, key
}

// has reports whether flag name (or its variable) is set.
func (t tool) has(name string) bool { return len(t.values(name)) > 0 }

// positional returns the arguments that are not flags or their values.
func (t tool) positional() []string {
	var ps []string
	for i := 0; i < len(t.args); i++ {
		arg := t.args[i]
		if arg == "--" {
			return append(ps, t.args[i+1:]...)
		}
		n := strings.TrimLeft(arg, "-")
		if n == arg {
			ps = append(ps, arg)
			continue
		}
		if k, _, hasValue := strings.Cut(n, "="); !hasValue && !isBoolFlag(k) {
			i++
		}
	}
	return ps
}

// badSetting is a value a binary or the app would reject at start.
type badSetting struct {
	what  string // "prestop --sleep" or "PRESTOP_SLEEP"
	value string
	fix   string // "" means: not a duration
}

// duration returns the last value of flag name as a duration, or def.
func (t tool) duration(name string, def time.Duration, bad *[]badSetting) time.Duration {
	vs, from := t.lookup(name)
	if len(vs) == 0 {
		return def
	}
	v := vs[len(vs)-1]
	d, err := time.ParseDuration(v)
	if err != nil {
		*bad = append(*bad, badSetting{what: from, value: v})
		return def
	}
	return d
}

// envDuration reads a duration variable, or def.
func envDuration(env map[string]string, key string, def time.Duration, bad *[]badSetting) time.Duration {
	v, ok := env[key]
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		*bad = append(*bad, badSetting{what: key, value: v})
		return def
	}
	return d
}

// shellSleep matches a preStop that only sleeps: ["sleep", "5"] or
// ["sh", "-c", "sleep 5"].
var shellSleep = regexp.MustCompile(`^\s*(?:/bin/|/usr/bin/)?sleep\s+([0-9]+)\s*;?\s*$`)

// execSleep returns how long an exec hook that only sleeps takes.
func execSleep(cmd []string) (time.Duration, bool) {
	line := strings.Join(cmd, " ")
	if len(cmd) == 3 && (path.Base(cmd[0]) == "sh" || path.Base(cmd[0]) == "bash") && cmd[1] == "-c" {
		line = cmd[2]
	}
	m := shellSleep.FindStringSubmatch(line)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}
