package config

import (
	"slices"
	"strings"
)

// Suggest returns the candidate closest to name for a "did you mean" hint, or "" when none is close:
// a candidate with the same letters ignoring case wins; otherwise the candidate within two edits
// (Levenshtein distance, case-insensitive) with the fewest edits, the first one in candidates order on
// a tie. An exact match is not a suggestion.
func Suggest(name string, candidates []string) string {
	if name == "" || slices.Contains(candidates, name) {
		return ""
	}
	lname := strings.ToLower(name)
	best, bestDist := "", 3
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if lc == lname {
			return c
		}
		if d := editDistance(lname, lc, 2); d <= 2 && d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// didYouMean formats the hint for name among candidates: ` (did you mean "X"?)` or "".
func didYouMean(name string, candidates []string) string {
	if s := Suggest(name, candidates); s != "" {
		return ` (did you mean "` + s + `"?)`
	}
	return ""
}

// editDistance is the Levenshtein distance of a and b (by runes); it returns limit+1 early once the
// distance is known to exceed limit.
func editDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
