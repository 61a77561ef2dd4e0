package docs

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// codeBlock is a fenced code block of a Markdown file.
type codeBlock struct {
	lang string // the fence's info string up to its first space: "go", "sh", ""
	line int    // the line number of the block's first line of code
	code string // the block's text, without the fences
}

// mdLink is a link of a Markdown file, outside code blocks and inline code.
type mdLink struct {
	line   int
	target string // as written: "docs/probe.md#flags", "#install", "https://…"
}

// page is what the tests read from one Markdown file.
type page struct {
	blocks  []codeBlock
	links   []mdLink
	anchors map[string]bool // the anchors GitHub makes of the headings
}

var (
	inlineLinkRE = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	refLinkRE    = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$`)
	headingRE    = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	inlineCodeRE = regexp.MustCompile("`+[^`]*`+")
)

// readPage reads a Markdown file: its fenced code blocks, its links
// (outside code) and the anchors of its headings.
func readPage(path string) (*page, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p := &page{anchors: map[string]bool{}}
	seen := map[string]int{}
	var (
		fence string // the open fence ("```", "~~~~"), or ""
		cur   codeBlock
		code  strings.Builder
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " ")
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) && strings.TrimSpace(strings.Trim(trimmed, fence[:1])) == "" {
				cur.code = code.String()
				p.blocks = append(p.blocks, cur)
				fence = ""
				code.Reset()
				continue
			}
			code.WriteString(line)
			code.WriteByte('\n')
			continue
		}
		if f := openFence(trimmed); f != "" {
			fence = f
			info := strings.TrimSpace(strings.TrimLeft(trimmed, f[:1]))
			lang, _, _ := strings.Cut(info, " ")
			cur = codeBlock{lang: lang, line: n + 1}
			continue
		}
		if m := headingRE.FindStringSubmatch(line); m != nil {
			a := anchor(m[1])
			if k := seen[a]; k > 0 {
				seen[a] = k + 1
				a += "-" + strconv.Itoa(k)
			} else {
				seen[a] = 1
			}
			p.anchors[a] = true
		}
		text := inlineCodeRE.ReplaceAllString(line, "")
		for _, m := range inlineLinkRE.FindAllStringSubmatch(text, -1) {
			p.links = append(p.links, mdLink{line: n, target: m[1]})
		}
		if m := refLinkRE.FindStringSubmatch(text); m != nil {
			p.links = append(p.links, mdLink{line: n, target: m[1]})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if fence != "" { // unclosed: the block runs to the end of the file
		cur.code = code.String()
		p.blocks = append(p.blocks, cur)
	}
	return p, nil
}

// openFence returns the fence a line opens (three or more backquotes or
// tildes), or "".
func openFence(line string) string {
	for _, c := range []string{"`", "~"} {
		n := len(line) - len(strings.TrimLeft(line, c))
		if n >= 3 {
			if c == "`" && strings.Contains(line[n:], "`") {
				return "" // a backquote in the info string: inline code, not a fence
			}
			return strings.Repeat(c, n)
		}
	}
	return ""
}

// anchor returns the anchor GitHub gives a heading's text: lower case,
// markup and punctuation dropped (but for '-' and '_'), each space turned
// into '-'. readPage adds "-1", "-2", … to duplicates.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
