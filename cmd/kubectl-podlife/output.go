package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// writeText prints one line per finding, "file:line: severity rule: where:
// message", then a summary line.
func writeText(w io.Writer, fs []finding, objects int) error {
	var errs, warns int
	for _, f := range fs {
		where := f.Kind + "/" + f.Name
		if f.Namespace != "" {
			where = f.Namespace + "/" + where
		}
		if f.Container != "" {
			where += " container " + f.Container
		}
		if _, err := fmt.Fprintf(w, "%s:%d: %s %s: %s: %s\n", f.File, f.Line, f.Severity, f.Rule, where, f.Message); err != nil {
			return err
		}
		if f.Severity == severityError {
			errs++
		} else {
			warns++
		}
	}
	var err error
	if len(fs) == 0 {
		_, err = fmt.Fprintf(w, "no findings in %s\n", plural(objects, "object"))
	} else {
		_, err = fmt.Fprintf(w, "%s, %s in %s\n", plural(errs, "error"), plural(warns, "warning"), plural(objects, "object"))
	}
	return err
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// writeJSON prints {"objects": N, "findings": [...]}.
func writeJSON(w io.Writer, fs []finding, objects int) error {
	if fs == nil {
		fs = []finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Objects  int       `json:"objects"`
		Findings []finding `json:"findings"`
	}{objects, fs})
}

// SARIF 2.1.0, the subset code-scanning UIs read: a run with the tool's
// rules, and results that point at a file and a line.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string            `json:"id"`
	Name                 string            `json:"name"`
	ShortDescription     sarifText         `json:"shortDescription"`
	FullDescription      sarifText         `json:"fullDescription"`
	HelpURI              string            `json:"helpUri"`
	Help                 sarifText         `json:"help"`
	DefaultConfiguration sarifRuleConfig   `json:"defaultConfiguration"`
	Properties           map[string]string `json:"properties,omitempty"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

// writeSARIF prints the findings as a SARIF 2.1.0 log.
func writeSARIF(w io.Writer, fs []finding, version string) error {
	rs := rules()
	index := map[string]int{}
	var srs []sarifRule
	for i, r := range rs {
		index[r.ID] = i
		srs = append(srs, sarifRule{
			ID: r.ID, Name: r.ID,
			ShortDescription:     sarifText{firstClause(r.Summary)},
			FullDescription:      sarifText{r.Summary},
			HelpURI:              r.HelpURI,
			Help:                 sarifText{r.Summary + ". Source: " + r.Source},
			DefaultConfiguration: sarifRuleConfig{r.Severity},
			Properties:           map[string]string{"source": r.Source},
		})
	}
	results := []sarifResult{}
	for _, f := range fs {
		where := f.Kind + "/" + f.Name
		if f.Container != "" {
			where += " container " + f.Container
		}
		results = append(results, sarifResult{
			RuleID: f.Rule, RuleIndex: index[f.Rule], Level: f.Severity,
			Message: sarifText{where + ": " + f.Message},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: sarifURI(f.File)},
				Region:           sarifRegion{StartLine: max(f.Line, 1)},
			}}},
			PartialFingerprints: map[string]string{"podlifeObject/v1": f.Rule + "/" + f.Kind + "/" + f.Namespace + "/" + f.Name + "/" + f.Container},
		})
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs: []sarifRun{{
			Tool: sarifTool{Driver: sarifDriver{
				Name: "kubectl-podlife", Version: version,
				InformationURI: "https://github.com/podlife/podlife/blob/main/docs/kubectl-podlife.md",
				Rules:          srs,
			}},
			Results: results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

// sarifURI is a relative URI with forward slashes, as code scanning
// resolves it against the repository root.
func sarifURI(file string) string {
	return strings.TrimPrefix(filepath.ToSlash(filepath.Clean(file)), "./")
}

func firstClause(s string) string {
	if i := strings.Index(s, ":"); i > 0 {
		return s[:i]
	}
	return s
}
