package catalog

import (
	"encoding/hex"
	"testing"
)

// Content hashes are stored with every product and compared by every
// later import: the bytes they are made of must not change between
// releases, or every product of a catalog would re-import as updated.
func TestContentHashIsStable(t *testing.T) {
	cmp, qty := int64(2500), int64(7)
	p := &ProductInput{
		Handle: "tee", Title: "Tee", DescriptionHTML: "<p>Soft</p>", Brand: "Acme", ProductType: "Shirt",
		Tags: []string{"cotton", "summer"}, Status: "active", CategoryPath: []string{"Apparel", "Shirts"},
		OptionNames: []string{"Size", "Color"},
		Attributes:  map[string][]string{"size": {"M", "S"}, "color": {"Blue", "Red"}, "material": {"cotton"}},
		Variants: []VariantInput{
			{SKU: "TEE-M", Options: []string{"M", "Red"}, Price: 1999, CompareAtPrice: &cmp, Currency: "USD", InventoryQty: &qty},
			{SKU: "", Options: []string{"S", "Blue"}, Price: 1899, Currency: "USD"},
		},
		Images: []ImageInput{{Src: "https://x/a.jpg", Alt: "front", Position: 1}},
	}
	const want, wantStockFree = "63e5d1a2c5ebfde3cf8aa3494e14b4c710a01b5e7b48d51ae41db25689f11158", "b97977710a24f8b17a2d54b9ac0ab7ff5e43f8ffc3031054dc08b0165f927ad3"
	if got := hex.EncodeToString(ContentHash(p)); got != want {
		t.Errorf("ContentHash = %s, want %s", got, want)
	}
	if got := hex.EncodeToString(stockFreeHash(ContentHash(p), p)); got != wantStockFree {
		t.Errorf("stockFreeHash = %s, want %s", got, wantStockFree)
	}
}
