// Package migrations holds Shelf's schema as goose SQL files, embedded in the
// binary so that `shelf migrate` needs nothing but a DSN. sqlc reads the same
// files as its schema. One DDL statement per file: MySQL and MariaDB commit
// each DDL on its own, so a file with two could be left half applied.
package migrations

import "embed"

// FS holds every migration, in file-name (= version) order.
//
//go:embed *.sql
var FS embed.FS
