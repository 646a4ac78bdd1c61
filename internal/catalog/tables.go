package catalog

import "github.com/shelfcommerce/shelf/internal/store"

// The tables the product writer fills in bulk, each with the one column list
// its rows are built for. Rows of new products go through Insert or
// InsertIDs, which send them with LOAD DATA LOCAL INFILE where the server
// takes it (see store.Table); rows that may already exist go through Upsert.
var (
	productsTable = store.NewTable("products", []string{"slug", "title", "description", "brand", "product_type", "tags",
		"status", "option1_name", "option2_name", "option3_name", "skus", "content_hash", "stock_free_hash", "version", "created_at", "updated_at"},
		"content_hash", "stock_free_hash")
	variantsTable = store.NewTable("variants", []string{"id", "product_id", "sku", "position", "option1", "option2", "option3",
		"price", "compare_at_price", "currency", "active", "created_at", "updated_at"})
	inventoryTable         = store.NewTable("inventory", []string{"variant_id", "product_id", "on_hand", "updated_at"})
	stockMovementsTable    = store.NewTable("stock_movements", []string{"variant_id", "sku", "delta", "on_hand_after", "reason", "note", "order_id", "actor", "created_at"})
	productCategoriesTable = store.NewTable("product_categories", []string{"product_id", "category_id", "position"})
	productAttributesTable = store.NewTable("product_attributes", []string{"product_id", "name", "value"})
	productImagesTable     = store.NewTable("product_images", []string{"product_id", "position", "src", "alt"})
	productListingTable    = store.NewTable("product_listing", []string{"category_id", "product_id", "slug", "title", "brand",
		"price_min", "currency", "in_stock", "created_at"})
	productPagesTable = store.NewTable("product_pages", []string{"product_id", "version", "variant_ids", "body"})
	searchWordsTable  = store.NewTable("search_words", []string{"product_id", "word", "score"})
)
