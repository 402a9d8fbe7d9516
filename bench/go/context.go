// Go's side of the context and semaphore benchmarks (bench/context_bench.cpp
// is goro's).
//
// semaphore_acquire_release compares with golang.org/x/sync/semaphore in
// spirit, but this module takes no dependencies: ci/bench.sh builds it with
// GOPROXY=off, so x/sync cannot be fetched. The Go side is therefore the
// idiomatic stand-in, a buffered channel of capacity 1 used as a semaphore
// (send to acquire, receive to release), which is what x/sync's own
// uncontended path costs about (a mutex round trip each way).

package main

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

func init() {
	workloads = append(workloads,
		workload{"semaphore_acquire_release", fixed(1), runSemaphoreAcquireRelease},
		workload{"context_cancel_10k", fixed(2), runContextCancel10k},
	)
}

// runSemaphoreAcquireRelease: GOMAXPROCS 1; acquire/release pairs on an
// uncontended semaphore of 1; 2,000,000 pairs after 200,000 of warm-up; ns
// per pair.
func runSemaphoreAcquireRelease(procs int) ([]result, error) {
	const n = 2000000
	sem := make(chan struct{}, 1)
	for i := 0; i < n/10; i++ {
		sem <- struct{}{}
		<-sem
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		<-sem
	}
	return []result{{fmt.Sprintf("semaphore_acquire_release/procs:%d", procs), nsPer(time.Since(t0), n), "ns/op"}}, nil
}

// runContextCancel10k: GOMAXPROCS 2; 10,000 goroutines parked in a select
// on a child context's Done() and a channel nobody sends on; the time from
// the parent's cancel until the last of them has returned, in ms. Five
// rounds, the median.
func runContextCancel10k(procs int) ([]result, error) {
	const n, rounds = 10000, 5
	var ms []float64
	for r := 0; r < rounds; r++ {
		parent, cancel := context.WithCancel(context.Background())
		child, stop := context.WithCancel(parent)
		never := make(chan int)
		var wg sync.WaitGroup
		var started atomic.Int32
		wg.Add(n)
		done := child.Done()
		for i := 0; i < n; i++ {
			go func() {
				started.Add(1)
				select {
				case <-done:
				case <-never:
				}
				wg.Done()
			}()
		}
		for started.Load() < n {
			runtime.Gosched()
		}
		time.Sleep(10 * time.Millisecond)
		t0 := time.Now()
		cancel()
		wg.Wait()
		ms = append(ms, float64(time.Since(t0).Nanoseconds())/1e6)
		stop()
	}
	sort.Float64s(ms)
	return []result{{fmt.Sprintf("context_cancel_10k/procs:%d", procs), ms[len(ms)/2], "ms"}}, nil
}
