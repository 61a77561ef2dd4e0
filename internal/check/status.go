package check

import (
	"fmt"
	"strconv"
	"strings"
)

// StatusSet is a set of HTTP status codes, parsed from a spec such as
// "200,204,300-399" or "2xx,304". The zero value is empty; Match on an
// empty set accepts 200-399, the default.
type StatusSet struct {
	ranges [][2]int
	spec   string
}

// ParseStatusSet parses a comma-separated list of codes (200), ranges
// (200-299) and classes (2xx). Codes must lie in 100-599.
func ParseStatusSet(spec string) (StatusSet, error) {
	var s StatusSet
	s.spec = spec
	if strings.TrimSpace(spec) == "" {
		return s, fmt.Errorf("empty status spec; want codes, ranges or classes such as 200,204,300-399 or 2xx")
	}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		lo, hi, err := parseStatusPart(part)
		if err != nil {
			return StatusSet{}, err
		}
		s.ranges = append(s.ranges, [2]int{lo, hi})
	}
	return s, nil
}

func parseStatusPart(part string) (lo, hi int, err error) {
	bad := func(why string) (int, int, error) {
		return 0, 0, fmt.Errorf("bad status %q: %s; want a code (200), a range (200-299) or a class (2xx)", part, why)
	}
	if part == "" {
		return bad("empty element")
	}
	if len(part) == 3 && strings.HasSuffix(strings.ToLower(part), "xx") {
		c := part[0]
		if c < '1' || c > '5' {
			return bad("class must be 1xx to 5xx")
		}
		lo = int(c-'0') * 100
		return lo, lo + 99, nil
	}
	a, b, isRange := strings.Cut(part, "-")
	if isRange && (strings.TrimSpace(a) == "" || strings.TrimSpace(b) == "") {
		return bad("a range needs both ends")
	}
	lo, err = parseCode(a)
	if err != nil {
		return bad(err.Error())
	}
	if !isRange {
		return lo, lo, nil
	}
	hi, err = parseCode(b)
	if err != nil {
		return bad(err.Error())
	}
	if hi < lo {
		return bad("range runs backwards")
	}
	return lo, hi, nil
}

func parseCode(s string) (int, error) {
	if len(s) != 3 {
		return 0, fmt.Errorf("a code has three digits")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("a code has three digits")
		}
	}
	n, _ := strconv.Atoi(s)
	if n < 100 || n > 599 {
		return 0, fmt.Errorf("code out of range 100-599")
	}
	return n, nil
}

// namesRedirect reports whether the set was given and holds a 3xx code:
// then the redirect itself is what is asked for, and it is not followed.
func (s StatusSet) namesRedirect() bool {
	for _, r := range s.ranges {
		if r[0] <= 399 && r[1] >= 300 {
			return true
		}
	}
	return false
}

// Match reports whether code is in the set; an empty set means 200-399.
func (s StatusSet) Match(code int) bool {
	if len(s.ranges) == 0 {
		return code >= 200 && code <= 399
	}
	for _, r := range s.ranges {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}

// String returns the spec the set was parsed from, or "200-399".
func (s StatusSet) String() string {
	if len(s.ranges) == 0 {
		return "200-399"
	}
	return s.spec
}
