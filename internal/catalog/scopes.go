package catalog

// StockScopeMessage is the refusal of a stock value sent by a key that may
// edit the catalog but not stock.
const StockScopeMessage = `setting stock needs an API key with the scope "inventory:write"; leave stock out or use such a key`

// HasStock reports whether writing p would set any stock.
func HasStock(p *ProductInput) bool {
	for _, v := range p.Variants {
		if v.InventoryQty != nil {
			return true
		}
	}
	return false
}

// refuseStock turns every variant of p that carries a stock value into a
// row error naming the missing scope: the import of a key without
// inventory:write writes the rest of the file and none of its stock.
func refuseStock(p *ProductInput) {
	kept := p.Variants[:0:0]
	for _, v := range p.Variants {
		if v.InventoryQty == nil {
			kept = append(kept, v)
			continue
		}
		p.Errors = append(p.Errors, RowError{Line: v.Line, SKU: v.SKU, Field: "stock", Message: StockScopeMessage})
	}
	p.Variants = kept
}
