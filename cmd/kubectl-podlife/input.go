package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxInput bounds what is read from one file or from stdin: manifests are
// text, and a stream with no end must not take the machine's memory.
const maxInput = 64 << 20

// document is one YAML (or JSON) document of an input file, as it was
// written: lint reads its nodes, inject rewrites them or prints raw again.
type document struct {
	file  string     // as given on the command line ("-" is stdin), or a file under a -f DIR
	index int        // 1-based, counting the non-empty documents of the file
	line  int        // the line of file where the document starts (1-based)
	raw   []byte     // the document's text, separator excluded
	root  *yaml.Node // the document node; its Line values are relative to raw
	json  bool       // written as JSON (inject prints it back as YAML)
}

// where names the document in a message: "deploy.yaml: document 2 (line 14)".
func (d *document) where() string {
	return fmt.Sprintf("%s: document %d (line %d)", displayName(d.file), d.index, d.line)
}

// absLine converts a line of the document's node tree to a line of its file.
func (d *document) absLine(l int) int {
	if l <= 0 {
		return d.line
	}
	return d.line + l - 1
}

func displayName(file string) string {
	if file == "-" {
		return "stdin"
	}
	return file
}

// inputError is an input that cannot be read or parsed: exit 2, one line.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func inputErrorf(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// readInputs reads every -f argument in order: a file, a directory (its
// .yaml, .yml and .json files in lexical order, walked recursively with
// -R, as kubectl does) or "-" for stdin.
func readInputs(names []string, recursive bool, stdin io.Reader) ([]*document, error) {
	var docs []*document
	for _, name := range names {
		files, err := expand(name, recursive)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			data, err := readFile(f, stdin)
			if err != nil {
				return nil, err
			}
			d, err := splitDocuments(f, data)
			if err != nil {
				return nil, err
			}
			docs = append(docs, d...)
		}
	}
	return docs, nil
}

func expand(name string, recursive bool) ([]string, error) {
	if name == "-" {
		return []string{"-"}, nil
	}
	fi, err := os.Stat(name)
	if err != nil {
		return nil, inputErrorf("%s: cannot read: %v", name, pathError(err))
	}
	if !fi.IsDir() {
		return []string{name}, nil
	}
	var files []string
	err = filepath.WalkDir(name, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != name && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		switch d.Name() {
		case "kustomization.yaml", "kustomization.yml", "Kustomization":
			return nil // a Kustomize input, not an object: lint `kustomize build` output
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return nil, inputErrorf("%s: cannot read: %v", name, pathError(err))
	}
	slices.Sort(files)
	return files, nil
}

func readFile(name string, stdin io.Reader) ([]byte, error) {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, inputErrorf("%s: cannot read: %v", name, pathError(err))
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, inputErrorf("%s: cannot read: %v", displayName(name), pathError(err))
	}
	if len(data) > maxInput {
		return nil, inputErrorf("%s: larger than %d MiB; split it", displayName(name), maxInput>>20)
	}
	return data, nil
}

// pathError drops the path an *fs.PathError repeats: the message names it.
func pathError(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// splitDocuments cuts data at "---" lines, as kubectl's YAML reader does,
// and parses each non-empty document into a node tree.
func splitDocuments(file string, data []byte) ([]*document, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return splitJSON(file, data)
	}
	var docs []*document
	var cur []byte
	start, lineNo := 1, 0
	flush := func() error {
		defer func() { cur = nil }()
		if isBlank(cur) {
			return nil
		}
		d := &document{file: file, index: len(docs) + 1, line: start, raw: cur}
		if err := d.parse(); err != nil {
			return err
		}
		docs = append(docs, d)
		return nil
	}
	for line := range bytes.Lines(data) {
		lineNo++
		if rest, ok := bytes.CutPrefix(line, []byte("---")); ok {
			rest = bytes.TrimSpace(rest)
			if len(rest) == 0 || rest[0] == '#' {
				if err := flush(); err != nil {
					return nil, err
				}
				start = lineNo + 1
				continue
			}
		}
		if cur == nil {
			start = lineNo
		}
		cur = append(cur, line...)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return docs, nil
}

// splitJSON cuts a stream of JSON objects (`kubectl get -o json` prints
// one, jq often several in a row) into documents.
func splitJSON(file string, data []byte) ([]*document, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var docs []*document
	for {
		var v json.RawMessage
		start := dec.InputOffset()
		err := dec.Decode(&v)
		if err == io.EOF {
			return docs, nil
		}
		// The value begins after the blanks between start and its first byte.
		lead := len(data[start:]) - len(bytes.TrimLeft(data[start:], " \t\r\n"))
		line := 1 + bytes.Count(data[:int(start)+lead], []byte("\n"))
		d := &document{file: file, index: len(docs) + 1, line: line, json: true}
		if err != nil {
			return nil, inputErrorf("%s: %s", d.where(), strings.TrimPrefix(err.Error(), "json: "))
		}
		d.raw = append([]byte(nil), v...)
		if err := d.parse(); err != nil {
			return nil, err
		}
		d.json = true
		docs = append(docs, d)
	}
}

// isBlank reports whether a document holds only blanks, comments and a
// "..." end marker.
func isBlank(doc []byte) bool {
	for line := range bytes.Lines(doc) {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' && !bytes.Equal(t, []byte("...")) {
			return false
		}
	}
	return true
}

func (d *document) parse() error {
	dec := yaml.NewDecoder(bytes.NewReader(d.raw))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		return inputErrorf("%s: %s", d.where(), d.yamlError(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return inputErrorf("%s: two documents without a \"---\" line between them; put it on a line of its own", d.where())
	}
	d.root = &root
	if len(root.Content) == 1 && root.Content[0].Style&yaml.FlowStyle != 0 {
		d.json = bytes.HasPrefix(bytes.TrimSpace(stripComments(d.raw)), []byte("{"))
	}
	return nil
}

// yamlError makes a parser error one line, its "line N" counted in the
// file rather than in the document.
func (d *document) yamlError(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	return yamlLineRE.ReplaceAllStringFunc(msg, func(m string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
		return "line " + strconv.Itoa(d.absLine(n))
	})
}

var yamlLineRE = regexp.MustCompile(`line [0-9]+`)

func stripComments(doc []byte) []byte {
	var out []byte
	for line := range bytes.Lines(doc) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
		}
	}
	return out
}
