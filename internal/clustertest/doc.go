// Package clustertest holds Shelf's cluster test tier: the real `shelf`
// binary run as several `shelf serve` processes behind an in-test reverse
// proxy, on a private 3-node MariaDB Galera cluster (scripts/ensure-galera.sh)
// and on private single mariadbd servers that the tests kill (SIGKILL) and
// freeze (SIGSTOP). The tests build only with the `cluster` tag:
//
//	make test-cluster
//	go test -race -tags cluster ./internal/clustertest/   # the same, by hand
//
// They start the Galera cluster themselves when SHELF_TEST_GALERA_DSNS (three
// comma-separated DSNs without a database) is not set. BenchmarkCluster, in
// the same package and behind the same tag, is `make bench-cluster`.
package clustertest
