package catalog

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoadingCacheLoadsOnceAndServesStaleWhileRefreshing(t *testing.T) {
	c := newLoadingCache[string, int]("test", time.Minute, 10)
	var loads atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) (int, error) {
		<-release
		return int(loads.Add(1)), nil
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	got := make([]int, 20)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.getOrLoad(context.Background(), "k", t0, load)
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	for _, v := range got {
		if v != 1 {
			t.Fatalf("20 concurrent callers saw %v: want one load shared", got)
		}
	}
	// Expired but within one more TTL: the old value comes back at once and
	// one background load refreshes it.
	if v, _ := c.getOrLoad(context.Background(), "k", time.Now().Add(90*time.Second), load); v != 1 {
		t.Fatalf("stale read = %d, want the old value 1", v)
	}
	// Wait until the refresh has finished (counted, stored and no longer in
	// flight), or the next read would join it rather than start its own.
	refreshing := func() bool {
		c.fmu.Lock()
		defer c.fmu.Unlock()
		return len(c.inflight) > 0
	}
	deadline := time.Now().Add(5 * time.Second)
	for (loads.Load() != 2 || refreshing()) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if loads.Load() != 2 {
		t.Fatal("no background refresh")
	}
	// Too old: the caller waits for a fresh load.
	if v, _ := c.getOrLoad(context.Background(), "k", time.Now().Add(10*time.Minute), load); v != 3 {
		t.Fatalf("expired read = %d, want a fresh load", v)
	}
	// TTL 0: no caching at all.
	off := newLoadingCache[string, int]("test", 0, 10)
	n := 0
	for range 3 {
		_, _ = off.getOrLoad(context.Background(), "k", t0, func(context.Context) (int, error) { n++; return n, nil })
	}
	if n != 3 {
		t.Fatalf("disabled cache loaded %d times, want 3", n)
	}
}
