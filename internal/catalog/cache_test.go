package catalog

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoadingCacheLoadsOnce(t *testing.T) {
	c := newLoadingCache[string, int]("test", time.Minute, 10)
	var loads atomic.Int32
	release, started := make(chan struct{}), make(chan struct{}, 1)
	load := func(context.Context) (int, error) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
		return int(loads.Add(1)), nil
	}
	var wg sync.WaitGroup
	got := make([]int, 20)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.getOrLoad(context.Background(), "k", time.Now(), load)
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		}()
	}
	// Release the load once it has started; callers that come after it
	// finished find its value cached, so every caller still sees load 1.
	<-started
	close(release)
	wg.Wait()
	for _, v := range got {
		if v != 1 {
			t.Fatalf("20 concurrent callers saw %v: want one load shared", got)
		}
	}
	if v, _ := c.getOrLoad(context.Background(), "k", time.Now(), load); v != 1 {
		t.Fatalf("cached read = %d, want 1 without a load", v)
	}
	// TTL 0: no caching at all.
	off := newLoadingCache[string, int]("test", 0, 10)
	n := 0
	for range 3 {
		_, _ = off.getOrLoad(context.Background(), "k", time.Now(), func(context.Context) (int, error) { n++; return n, nil })
	}
	if n != 3 {
		t.Fatalf("disabled cache loaded %d times, want 3", n)
	}
}

// A write that commits while a load of the old row is in flight forgets the
// key: the old value is not stored, and a read after the forget does not
// join the old load but sees the new value.
func TestLoadingCacheForgetBeatsALoadInFlight(t *testing.T) {
	for _, all := range []bool{false, true} {
		c := newLoadingCache[uint64, string]("test", time.Hour, 10)
		started, release := make(chan struct{}), make(chan struct{})
		row := "old"
		var mu sync.Mutex
		read := func() string { mu.Lock(); defer mu.Unlock(); return row }
		done := make(chan string)
		go func() {
			v, _ := c.getOrLoad(context.Background(), 7, time.Now(), func(context.Context) (string, error) {
				v := read()
				close(started)
				<-release
				return v, nil
			})
			done <- v
		}()
		<-started
		mu.Lock()
		row = "new" // the write commits...
		mu.Unlock()
		if all { // ...and forgets
			c.forgetAll()
		} else {
			c.forget(7)
		}
		fresh, _ := c.getOrLoad(context.Background(), 7, time.Now(), func(context.Context) (string, error) { return read(), nil })
		close(release)
		if old := <-done; old != "old" {
			t.Fatalf("the load in flight returned %q", old)
		}
		if fresh != "new" {
			t.Fatalf("forgetAll=%v: a read after the forget saw %q", all, fresh)
		}
		if v, _ := c.getOrLoad(context.Background(), 7, time.Now(), func(context.Context) (string, error) { return "loaded again", nil }); v != "new" {
			t.Fatalf("forgetAll=%v: the cache holds %q, want the fresh value", all, v)
		}
	}
}

func TestTTLCacheEvictsOneWhenFull(t *testing.T) {
	c := newTTLCache[int, int]("test", time.Hour, 3)
	for i := range 4 {
		c.put(i, i, time.Now())
	}
	if _, ok := c.get(0, time.Now()); ok {
		t.Fatal("the least recently used entry was kept past the size")
	}
	for i := 1; i < 4; i++ {
		if _, ok := c.get(i, time.Now()); !ok {
			t.Fatalf("entry %d was dropped: a full cache must drop one entry, not all", i)
		}
	}
}

// BenchmarkDetailCacheMiss is what the page cache adds to a product page
// that is not in it (every page, when shoppers spread over a large
// catalog), against the same load with the cache off.
func BenchmarkDetailCacheMiss(b *testing.B) {
	load := func(context.Context) (*RenderedProduct, error) {
		return &RenderedProduct{Body: make([]byte, 3000)}, nil
	}
	for _, ttl := range []time.Duration{time.Second, 0} {
		b.Run("ttl="+ttl.String(), func(b *testing.B) {
			c := newLoadingCache[uint64, *RenderedProduct]("bench", ttl, 50000)
			b.SetParallelism(16)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 1))
				for pb.Next() {
					_, _ = c.getOrLoad(context.Background(), r.Uint64N(1_000_000), time.Now(), load)
				}
			})
		})
	}
}
