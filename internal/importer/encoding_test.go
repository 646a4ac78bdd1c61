package importer

import (
	"errors"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/catalog"
)

// An image URL or alt text in another encoding than UTF-8 (a Shopify file
// Excel saved as Windows-1252) is refused with the product, naming the
// image, as every other text field is: before, the image was dropped, or its
// alt text blanked, without a word.
func TestImageTextThatIsNotUTF8IsRefused(t *testing.T) {
	file := "Handle,Title,Variant SKU,Variant Price,Image Src,Image Alt Text\n" +
		"a,A,A-1,1.00,https://x/caf\xe9.jpg,\n" +
		"a,,,,https://x/2.jpg,caf\xe9 au lait\n"
	res := readAll(t, "shopify", file)
	var fields []string
	for _, err := range res.errs {
		var pe *catalog.ProductError
		if errors.As(err, &pe) {
			for _, e := range pe.Errors {
				if strings.Contains(e.Message, "UTF-8") {
					fields = append(fields, e.Field)
				}
			}
		}
	}
	if strings.Join(fields, ",") != "images[0].src,images[1].alt" {
		t.Errorf("errors on %v, want images[0].src and images[1].alt; products %d", fields, len(res.products))
	}
}

// An option whose name cannot name a facet attribute (non-ASCII, such as
// the German "Größe", or longer than 64 characters) is sold, just not
// filtered by; before, it failed its product, blamed on "attributes".
func TestOptionsNamedBeyondASCIIAreSold(t *testing.T) {
	long := strings.Repeat("x", 65)
	for format, file := range map[string]string{
		"shopify": "Handle,Title,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Variant SKU,Variant Price\nshirt,Shirt,Größe,M,Color,Red,SH-M,10.00\nshirt,,,L,,Red,SH-L,10.00\n",
		"csv":     "handle,title,sku,price,option1_name,option1_value,option2_name,option2_value\nshirt,Shirt,SH-M,10.00," + long + ",v,Color,Red\n",
	} {
		res := readAll(t, format, file)
		if len(res.errs) != 0 || len(res.products) != 1 {
			t.Errorf("%s: %d products, errors %v", format, len(res.products), res.errs)
			continue
		}
		p := res.products[0]
		if _, ok := p.Attributes["color"]; !ok || len(p.Attributes) != 1 {
			t.Errorf("%s: attributes %v, want color alone", format, p.Attributes)
		}
	}
}
