// Package catalog holds the rules of Shelf's catalog: the category tree, the
// product listing read model and how it is kept in step with every write,
// storefront listing filters, sorts, facets and cursors, and product detail.
// Handlers call it; it talks to MySQL through sqlc's queries in db/.
package catalog
