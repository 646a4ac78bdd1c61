package catalog

import (
	"encoding/json"
	"strconv"

	"github.com/shelfcommerce/shelf/internal/jsonw"
)

// AppendJSON appends the page as encoding/json encodes it (the same bytes,
// HTML-escaped as json.Marshal escapes), without reflection: a listing page
// is two dozen items of seven fields, and encoding them through reflection,
// Money's MarshalJSON and the re-validation of its output cost more CPU than
// reading the page from the database.
func (p *ListPage) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"items":`...)
	if p.Items == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range p.Items {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = p.Items[i].appendJSON(b); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"next_cursor":`...)
	if p.NextCursor == nil {
		b = append(b, "null"...)
	} else {
		b = jsonw.AppendString(b, *p.NextCursor)
	}
	if len(p.Facets) > 0 {
		f, err := json.Marshal(p.Facets)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"facets":`...)
		b = append(b, f...)
	}
	return append(b, '}'), nil
}

func (it *ListItem) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, it.ID, 10)
	b = append(b, `,"slug":`...)
	b = jsonw.AppendString(b, it.Slug)
	b = append(b, `,"title":`...)
	b = jsonw.AppendString(b, it.Title)
	b = append(b, `,"brand":`...)
	b = jsonw.AppendString(b, it.Brand)
	b = append(b, `,"price":`...)
	b, err := it.Price.AppendJSON(b)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"in_stock":`...)
	b = strconv.AppendBool(b, it.InStock)
	b = append(b, `,"created_at":"`...)
	if b, err = it.CreatedAt.AppendText(b); err != nil {
		return nil, err
	}
	return append(b, `"}`...), nil
}
