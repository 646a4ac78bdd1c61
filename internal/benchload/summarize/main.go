// Command summarize turns the rows the benchmarks recorded (benchload.Record)
// into the summary table of docs/benchmarks/README.md: `make bench` runs it
// after the benchmarks.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: summarize ROWS.tsv > docs/benchmarks/README.md")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	fmt.Fprint(out, `# Benchmarks: summary

Written by `+"`make bench`"+` from the run it made; each path is measured next to the raw SQL
that bounds it, in the same run, at the same concurrency (32 clients unless the path says
otherwise); the change feed's rows set the outbox against the same work with it switched off,
and its delivery rows have no bound, only their latencies. The details, the analysis and earlier
runs are in catalog.md, orders.md, import.md, feed.md and webhooks.md. The load generator, the
server and MariaDB share the machine's cores, so read every figure as noisy (±30%); "load" is
the machine's 1-minute load average when the row was recorded: above the number of cores, other
work shared the machine and the absolute figures (more than the ratios) suffer.

| path | rate | raw bound | bound rate | ratio | p50 ms | p99 ms | dataset | pool | buffer pool | date | load |
|---|---:|---|---:|---:|---:|---:|---|---:|---:|---|---:|
`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 12 {
			fmt.Fprintf(os.Stderr, "summarize: skipping a row of %d fields\n", len(c))
			continue
		}
		rate, _ := strconv.ParseFloat(c[1], 64)
		bound, _ := strconv.ParseFloat(c[3], 64)
		ratio := "-"
		if bound > 0 {
			ratio = fmt.Sprintf("%.0f%%", 100*rate/bound)
		}
		ms := func(s string) string {
			if s == "0.00" {
				return "-"
			}
			return s
		}
		dash := func(s string) string {
			if s == "" || s == "0" {
				return "-"
			}
			return s
		}
		rateText := dash(c[1])
		if rateText != "-" {
			rateText += " " + c[4]
		}
		buf, _ := strconv.ParseInt(c[9], 10, 64)
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d MiB | %s | %s |\n",
			c[0], rateText, dash(c[2]), dash(c[3]), ratio, ms(c[5]), ms(c[6]), c[7], dash(c[8]), buf>>20, c[10], c[11])
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
