// Package importbench holds BenchmarkImport, which drives a real `shelf serve`
// child process with a generated Shopify CSV of a million rows, so that the
// server's peak memory can be read from /proc and the figures include HTTP,
// parsing and the writer. It has no code of its own.
package importbench
