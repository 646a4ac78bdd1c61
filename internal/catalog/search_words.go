package catalog

import (
	"context"
	"fmt"
	stdhtml "html"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/store"
)

// The search index, search_words: one row per active product and word its
// page shows (title, brand, its active variants' SKUs, description), with
// the word's score in that product, written with the page. What a word is, and how
// it scores, is the one rule both sides use: ProductWords on the write path
// and SearchTerms on the query.
//
// A word is a run of letters and digits (anything else separates words, and
// in a description so does an HTML tag) of at least 3 characters, lower-cased,
// at most 84 bytes, and not a stopword. A word's score in a product is
//
//	4 × its occurrences in the title + 2 × in the brand + 2 × in the SKUs
//	+ 1 × in the description, at most 65,535,
//
// and a product's relevance to a search is the sum of its scores for the
// search's words. Scores depend on the product alone (no catalog-wide
// statistics), so a write changes only its own products' rows, and a page of
// one word's best products under any filter is search_words_rank walked from
// the top, stopped after the page.

const (
	minWordRunes = 3
	maxWordBytes = 84
	maxTerms     = 8
	maxWordScore = 65535

	titleWeight       = 4
	brandWeight       = 2
	skuWeight         = 2
	descriptionWeight = 1
)

// stopwords are left out of the index and of searches: InnoDB's default
// full-text stopwords of 3 or more letters (what searches have always
// skipped), so "the sofa" finds sofas.
var stopwords = map[string]bool{
	"about": true, "are": true, "com": true, "for": true, "from": true, "how": true,
	"that": true, "the": true, "this": true, "was": true, "what": true, "when": true,
	"where": true, "who": true, "will": true, "with": true, "und": true, "www": true,
}

// eachWord calls fn with each word of s, in order, repeats included. With
// html, a tag (from a '<' followed by a letter, '/' or '!' to the next '>')
// is a separator, not words, and a character reference is the character
// it stands for ("caf&eacute;" is "café"; "&amp;" and "&nbsp;" are
// separators, not the words "amp" and "nbsp").
func eachWord(s string, html bool, fn func(w string)) {
	if html && strings.IndexByte(s, '&') >= 0 {
		s = decodeReferences(s)
	}
	start := -1 // the current word's first byte, -1 between words
	emit := func(end int) {
		if start < 0 {
			return
		}
		w := s[start:end]
		start = -1
		if utf8.RuneCountInString(w) < minWordRunes {
			return
		}
		w = strings.ToLower(w)
		if len(w) > maxWordBytes || stopwords[w] {
			return
		}
		fn(w)
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if start < 0 {
				start = i
			}
			i += n
			continue
		}
		emit(i)
		if html && r == '<' && isTagStart(s[i+1:]) {
			if end := strings.IndexByte(s[i+1:], '>'); end >= 0 {
				i += 1 + end + 1
				continue
			}
		}
		i += n
	}
	emit(len(s))
}

// decodeReferences replaces the character references of HTML text outside
// its tags with their characters; one that decodes to '<' or '>' becomes a
// space, so that it cannot open or close a tag.
func decodeReferences(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '<' && isTagStart(s[i+1:]):
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			b.WriteString(s[i : i+end+1])
			i += end + 1
		case c == '&':
			end := strings.IndexByte(s[i:min(len(s), i+maxReference)], ';')
			if end < 0 {
				b.WriteByte(c)
				i++
				continue
			}
			ref := s[i : i+end+1]
			text := stdhtml.UnescapeString(ref)
			if text == ref { // not a reference: "&" alone
				b.WriteByte(c)
				i++
				continue
			}
			if strings.ContainsAny(text, "<>") {
				text = " "
			}
			b.WriteString(text)
			i += end + 1
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// isTagStart reports whether what follows a '<' opens a tag: a letter, '/'
// or '!'.
func isTagStart(rest string) bool {
	if rest == "" {
		return false
	}
	next, _ := utf8.DecodeRuneInString(rest)
	return unicode.IsLetter(next) || next == '/' || next == '!'
}

// maxReference is the longest character reference looked for, ";" included
// ("&CounterClockwiseContourIntegral;" is 33 bytes).
const maxReference = 34

// SearchTerms is the words of a query that search uses: its distinct words
// (see eachWord), in order, at most 8. Everything that is not a word is a
// separator, so no input has any syntax.
func SearchTerms(q string) []string {
	var out []string
	eachWord(q, false, func(w string) {
		if len(out) < maxTerms && !slices.Contains(out, w) {
			out = append(out, w)
		}
	})
	return out
}

// ProductWords is each word of a product and its score in it.
func ProductWords(title, brand, skus, description string) map[string]int {
	scores := map[string]int{}
	add := func(s string, html bool, weight int) {
		eachWord(s, html, func(w string) { scores[w] = min(scores[w]+weight, maxWordScore) })
	}
	add(title, false, titleWeight)
	add(brand, false, brandWeight)
	add(skus, false, skuWeight)
	add(description, true, descriptionWeight)
	return scores
}

// pageWords is ProductWords of what a product page shows: its title, brand,
// the SKUs of its (active) variants and its description.
func pageWords(p *Product) map[string]int {
	var skus strings.Builder
	for _, v := range p.Variants {
		if v.SKU != nil {
			skus.WriteString(*v.SKU)
			skus.WriteByte(' ')
		}
	}
	return ProductWords(p.Title, p.Brand, skus.String(), p.Description)
}

// syncSearchWords makes search_words agree with pages for the products ids
// (sorted, distinct; pages holds the active ones, the others have no words).
// A product whose stored words are already right is not written; one that
// has none is only inserted (nothing to delete, so no lock on its empty
// range), the others are deleted and written again.
func syncSearchWords(ctx context.Context, q *db.Queries, ex store.Execer, ids []uint64, pages []*Product) error {
	stored, err := q.SearchWordsOf(ctx, ids)
	if err != nil {
		return fmt.Errorf("read search words: %w", err)
	}
	have := make(map[uint64]map[string]int, len(ids))
	for _, r := range stored {
		m := have[r.ProductID]
		if m == nil {
			m = map[string]int{}
			have[r.ProductID] = m
		}
		m[string(r.Word)] = int(r.Score)
	}
	want := make(map[uint64]map[string]int, len(pages))
	for _, p := range pages {
		want[p.ID] = pageWords(p)
	}
	var stale []uint64
	var args []any
	for _, id := range ids {
		h, w := have[id], want[id]
		if len(h) == len(w) && equalScores(h, w) {
			continue
		}
		if len(h) > 0 {
			stale = append(stale, id)
		}
		args = appendWordRows(args, id, w)
	}
	if len(stale) > 0 {
		if err := q.DeleteSearchWords(ctx, stale); err != nil {
			return fmt.Errorf("delete search words: %w", err)
		}
	}
	if len(args) > 0 {
		// The update only matters if a concurrent writer inserted the same
		// product's words since this transaction's snapshot.
		if _, err := searchWordsTable.Upsert(ctx, ex, args, "ON DUPLICATE KEY UPDATE score = VALUES(score)"); err != nil {
			return fmt.Errorf("write search words: %w", err)
		}
	}
	return nil
}

// appendWordRows appends the search_words rows of product id's words, in
// word order.
func appendWordRows(args []any, id uint64, w map[string]int) []any {
	words := make([]string, 0, len(w))
	for word := range w {
		words = append(words, word)
	}
	slices.Sort(words)
	for _, word := range words {
		args = append(args, id, word, w[word])
	}
	return args
}

func equalScores(a, b map[string]int) bool {
	for k, v := range a {
		if s, ok := b[k]; !ok || s != v {
			return false
		}
	}
	return true
}

// reindexBatch is how many products Reindex renders per transaction.
const reindexBatch = 2000

// Reindex renders every product's page and search words again from the
// normalised tables, reindexBatch products a transaction, and returns how
// many products it went through: for a catalog written before search_words
// existed (an upgrade past migration 00140 leaves it empty), or to repair
// the read models. Each batch is what a write of those products would
// leave, so it is safe to run while the service serves.
func Reindex(ctx context.Context, st *store.Store) (int, error) {
	var after uint64
	n := 0
	for {
		ids, err := st.Q.ProductIDsAfter(ctx, db.ProductIDsAfterParams{ID: after, Limit: reindexBatch})
		if err != nil {
			return n, fmt.Errorf("reindex: %w", err)
		}
		if len(ids) == 0 {
			return n, nil
		}
		if err := st.InTx(ctx, func(tx *store.Tx) error { return SyncPages(ctx, tx, ids) }); err != nil {
			return n, fmt.Errorf("reindex: %w", err)
		}
		n += len(ids)
		after = ids[len(ids)-1]
	}
}
