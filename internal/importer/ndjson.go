package importer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/rules"
)

type ndjsonReader struct {
	br   *bufio.Reader
	opts Options
	line int
	buf  []byte
	seen seenHandles
	err  error // sticky
}

func newNDJSONReader(r io.Reader, opts Options) *ndjsonReader {
	return &ndjsonReader{br: bufio.NewReaderSize(r, 64<<10), opts: opts, seen: make(seenHandles)}
}

// readLine returns the next line without its line end; tooLong reports a line over
// MaxLineBytes, whose content is discarded as it is read.
func (r *ndjsonReader) readLine() (line []byte, tooLong bool, err error) {
	r.buf = r.buf[:0]
	n := 0
	for {
		frag, err := r.br.ReadSlice('\n')
		n += len(frag)
		if !tooLong {
			if len(r.buf)+len(frag) > MaxLineBytes+2 { // +2: room for "\r\n"
				tooLong = true
				r.buf = r.buf[:0]
			} else {
				r.buf = append(r.buf, frag...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && n == 0:
			return nil, false, io.EOF
		case err != nil && err != io.EOF:
			return nil, false, err
		}
		b := bytes.TrimSuffix(r.buf, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		if len(b) > MaxLineBytes {
			tooLong = true
		}
		return b, tooLong, nil
	}
}

func (r *ndjsonReader) Next() (*catalog.ProductInput, error) {
	for {
		if r.err != nil {
			return nil, r.err
		}
		line, tooLong, err := r.readLine()
		if err != nil {
			if err == io.EOF {
				r.err = io.EOF
			} else {
				r.err = &catalog.FileError{Line: r.line + 1, Message: "reading the file: " + err.Error(), Err: err}
			}
			return nil, r.err
		}
		r.line++
		if r.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if tooLong {
			return nil, &catalog.ProductError{Line: r.line, Errors: []catalog.RowError{{Line: r.line,
				Message: "is longer than " + strconv.Itoa(MaxLineBytes>>20) + " MiB; split the product or shorten its description"}}}
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return r.parse(line)
	}
}

func (r *ndjsonReader) parse(data []byte) (*catalog.ProductInput, error) {
	line := r.line
	var jp catalog.ProductJSON
	if err := json.Unmarshal(data, &jp); err != nil {
		re := catalog.RowError{Line: line, Message: "is not a valid JSON object: " + err.Error()}
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			re.Field = te.Field
			re.Message = "must not be a JSON " + te.Value
			if re.Field == "" {
				re.Message = "must be a JSON object, not " + te.Value
			}
		case errors.As(err, &se):
			re.Message = "is not valid JSON: " + se.Error()
		}
		return nil, &catalog.ProductError{Line: line, Handle: jp.Handle, Errors: []catalog.RowError{re}}
	}
	return parseJSON(&jp, line, r.opts, r.seen)
}

// ParseProductJSON checks one product given as JSON with the rules every
// import format shares, as if it were line 1 of an NDJSON file, and returns
// it: the product to write, whose Errors list the variants left out, or a
// *catalog.ProductError when nothing of it can be written.
func ParseProductJSON(jp *catalog.ProductJSON, opts Options) (*catalog.ProductInput, error) {
	return parseJSON(jp, 1, opts, nil)
}

// parseJSON builds the product of jp, found at line; seen, when not nil,
// catches a handle that appeared before in the same file.
func parseJSON(jp *catalog.ProductJSON, line int, opts Options, seen seenHandles) (*catalog.ProductInput, error) {
	handle := strings.TrimSpace(jp.Handle)
	b := newBuilder(line, handle)
	if seen != nil {
		seen.check(b)
	}
	p := b.p
	if !ValidHandle(handle) {
		b.productErr(line, "handle", handleError(handle))
	}
	p.Title = strings.TrimSpace(jp.Title)
	if p.Title == "" {
		b.productErr(line, "title", "is required")
	}
	p.DescriptionHTML = strings.TrimSpace(jp.Description)
	p.Brand = strings.TrimSpace(jp.Brand)
	p.ProductType = strings.TrimSpace(jp.Type)
	p.CategoryPath = splitCategory(jp.Category)
	for _, t := range jp.Tags {
		// Checked before the join below, which would split a tag at a NUL.
		if msg := rules.Text(t); msg != "" {
			b.productErr(line, "tags", msg)
		}
	}
	p.Tags = splitList(strings.Join(jp.Tags, "\x00"), "\x00")
	if s, ok := normStatus(jp.Status); !ok {
		b.productErr(line, "status", "must be active, draft or archived")
	} else if s != "" {
		p.Status = s
	}
	for name, raw := range jp.Attributes {
		vals, ok := stringOrList(raw)
		if !ok {
			b.productErr(line, "attributes", "value of "+strconv.Quote(name)+" must be a string or a list of strings")
			continue
		}
		for _, v := range vals {
			b.addAttr(name, v)
		}
	}
	for _, img := range jp.Images {
		b.addImage(img.Src, img.Alt, img.Position)
	}
	if len(jp.Variants) == 0 {
		b.productErr(line, "variants", "must list at least one variant")
	}
	// Option names: the first variant's, in file order.
	if len(jp.Variants) > 0 {
		names, _, err := orderedOptions(jp.Variants[0].Options)
		if err != "" {
			b.productErr(line, "options", err)
		} else {
			b.setOptionNames(line, names)
		}
	}
	if len(b.fatal) == 0 {
		for i := range jp.Variants {
			jsonVariant(b, &jp.Variants[i], i+1, opts)
		}
	}
	return b.finish()
}

func jsonVariant(b *builder, jv *catalog.VariantJSON, idx int, opts Options) {
	line := b.p.Line
	v := catalog.VariantInput{Line: line, SKU: strings.TrimSpace(jv.SKU), Currency: opts.Currency}
	var errs []catalog.RowError
	add := func(field, msg string) {
		errs = append(errs, catalog.RowError{Line: line, Field: field, Message: msg, Variant: idx})
	}
	names, vals, msg := orderedOptions(jv.Options)
	if msg != "" {
		add("options", msg)
	} else {
		v.Options = make([]string, len(b.p.OptionNames))
		for k, want := range b.p.OptionNames {
			for i, n := range names {
				if n == want {
					v.Options[k] = strings.TrimSpace(vals[i])
				}
			}
			if v.Options[k] == "" {
				add(optValueField(k), "is required ("+want+")")
			}
		}
		for _, n := range names {
			known := false
			for _, want := range b.p.OptionNames {
				known = known || n == want
			}
			if !known {
				add("options", "has option "+strconv.Quote(n)+" that the first variant does not have")
			}
		}
		if len(v.Options) == 0 {
			v.Options = nil
		}
	}
	if cur := strings.TrimSpace(jv.Currency); cur != "" {
		v.Currency = strings.ToUpper(cur)
	}
	if _, ok := money.Exponent(v.Currency); !ok {
		add("currency", "must be an ISO-4217 code such as USD or EUR")
	} else {
		price, msg := jsonMoney(jv.Price)
		if msg != "" {
			add("price", msg)
		}
		compare, cmsg := jsonMoney(jv.CompareAtPrice)
		if cmsg != "" {
			add("compare_at_price", cmsg)
		}
		if msg == "" && cmsg == "" {
			before := len(errs)
			errs = parsePrices(&v, price, compare, errs, line)
			for i := before; i < len(errs); i++ {
				errs[i].Variant = idx
			}
		}
	}
	if st := bytes.TrimSpace(jv.Stock); len(st) > 0 && string(st) != "null" {
		if st[0] == '"' {
			add("stock", "must be a JSON number, not a string")
		} else if q, msg := parseQty(string(st)); msg != "" {
			add("stock", msg)
		} else {
			v.InventoryQty = q
		}
	}
	b.variantIdx = idx
	b.addVariant(v, errs)
}

// jsonMoney extracts a decimal string; null or absent is "".
func jsonMoney(raw json.RawMessage) (string, string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", ""
	}
	if raw[0] != '"' {
		return "", "must be a decimal string such as \"19.99\", not a JSON number (numbers may have been rounded)"
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", "is not a valid JSON string"
	}
	return strings.TrimSpace(s), ""
}

func stringOrList(raw json.RawMessage) ([]string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []string{s}, true
	}
	var l []string
	if err := json.Unmarshal(raw, &l); err == nil {
		return l, true
	}
	return nil, false
}

// orderedOptions reads {"Size":"M","Color":"Red"} keeping the file's key order, which
// encoding/json's maps would lose.
func orderedOptions(raw json.RawMessage) (names, vals []string, errMsg string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, ""
	}
	const bad = `must be an object of option names to string values, like {"Size":"M"}`
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, bad
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, nil, bad
		}
		vt, err := dec.Token()
		if err != nil {
			return nil, nil, bad
		}
		k, _ := kt.(string)
		v, ok := vt.(string)
		if !ok {
			return nil, nil, "value of option " + strconv.Quote(k) + " must be a string"
		}
		k = strings.TrimSpace(k)
		if k == "" {
			return nil, nil, "option names must not be empty"
		}
		if slices.Contains(names, k) {
			return nil, nil, "option " + strconv.Quote(k) + " appears twice"
		}
		if len(names) == MaxOptions {
			return nil, nil, "at most 3 options are allowed"
		}
		names = append(names, k)
		vals = append(vals, v)
	}
	return names, vals, ""
}
