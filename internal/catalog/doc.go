// Package catalog holds the rules of Shelf's catalog. Handlers call it; it
// talks to MySQL through sqlc's queries in db/ (and, for the few statements
// whose shape depends on the request, parameterised SQL built here).
//
// Where things live:
//
//   - Reading (the storefront): storefront.go (Storefront, its caches),
//     recent.go (what just changed is read from the primary, not a lagging
//     read node), listing.go (query parsing, filters, sorts, signed keyset
//     cursors), listing_sql.go (every run-time statement of listings,
//     searches and facets, one builder), listing_json.go (a listing page's
//     JSON, appended without reflection), search_words.go (what a word is,
//     how it scores, and search_words kept in step), facets.go, detail.go (product pages and their
//     ETags), category_tree.go (the tree and breadcrumbs), cache.go.
//   - Writing: product_input.go (ProductInput, the write input that the
//     admin API and internal/importer's readers produce, its errors, its
//     JSON shape, and the ProductReader and ProductWriter interfaces that
//     Import and Export take, so catalog never imports the importer),
//     writer.go (the one product writer: whole products in batches,
//     used by the admin API and by imports, with a savepoint per product
//     when a batch fails), product_check.go (column limits and the content
//     hash: unchanged content is not written), tables.go (the column list
//     of every table the writer fills in bulk: new products' rows are sent
//     with LOAD DATA LOCAL INFILE where the server takes it, see
//     store.Table), product_rows.go (product, category, attribute and
//     image rows), variant_match.go (variants matched
//     by SKU, else options, else position, and their stock),
//     listing_fast_path.go (listing rows, pages and attribute counts of new
//     products without reading back), import.go (a ProductReader's products
//     streamed through the writer), parallel.go (two of an import's batches
//     written at once, decided as if one after the other), export.go (the whole catalog to a ProductWriter, from one
//     snapshot),
//     scopes.go (stock in a write needs inventory:write), product_admin.go
//     (create, replace, archive), product_patch.go (PATCH merged in its
//     transaction, and the 422 of an API product the importer's parse
//     refused),
//     category.go (a category created, alone or by path, and its slug),
//     category_edit.go (renamed, deleted, moved with its subtree: the closure
//     table; moves and deletes hold the category_tree row of catalog_locks
//     exclusively, adds share it, so the tree's shape changes one at a
//     time), stock.go (set and adjust stock), ledger.go (RecordStock, the
//     one writer of the stock ledger, for admins, imports and orders alike,
//     recording a stock.changed event with every row), writer_events.go
//     (the events of product writes; see internal/events).
//   - The read models: sync.go, attribute_counts.go, facet_counts.go and
//     product_page.go. product_listing holds one row per listed product and
//     category (category 0 is the whole catalog) carrying every sort key,
//     categories.product_count the counts, listing_attribute_counts the
//     listed products per category and attribute value and
//     listing_facet_counts per category and brand or price band (the
//     attribute, brand and price facets of an unfiltered listing read a few
//     rows, not the category's listing), product_pages each active product's
//     rendered page (its stock is spliced in when read), and search_words
//     each active product's words with their scores (written with its page);
//     SyncListing brings all six in step for a set of products inside the
//     writing transaction, so the storefront never disagrees with a product
//     page.
package catalog
