// Go's side of the rw_mutex benchmark (bench/rw_mutex_bench.cpp is goro's):
// rwmutex_read_mostly, after BenchmarkRWMutexWrite100 (sync/rwmutex_test.go).

package main

import (
	"fmt"
	"sync"
	"time"
)

func init() {
	workloads = append(workloads,
		workload{"rwmutex_read_mostly", fixed(2), runRWMutexReadMostly},
	)
}

const (
	rwOps        = 1_000_000 // per goroutine
	rwWriteEvery = 100
	rwLocalWork  = 10 // LCG steps inside the read lock (goro's side: the same)
)

var rwSink uint64

// runRWMutexReadMostly: one goroutine per P loops over ops; each op takes
// the RWMutex shared (RLock) around a little local work, and every 100th
// op takes it exclusively (Lock) instead. All start together from a gate;
// ns per op over all goroutines, as RunParallel. A warm-up of a tenth first.
func runRWMutexReadMostly(procs int) ([]result, error) {
	var rwm sync.RWMutex
	rwRound(&rwm, procs, rwOps/10) // warm-up
	d := rwRound(&rwm, procs, rwOps)
	return []result{{fmt.Sprintf("rwmutex_read_mostly/procs:%d", procs), nsPer(d, procs*rwOps), "ns/op"}}, nil
}

func rwRound(rwm *sync.RWMutex, goroutines, ops int) time.Duration {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	sinks := make([]uint64, goroutines)
	ready.Add(goroutines)
	done.Add(goroutines)
	for g := 0; g < goroutines; g++ {
		go func(g int) {
			defer done.Done()
			foo := uint64(g) + 1
			ready.Done()
			<-start
			for i := 1; i <= ops; i++ {
				if i%rwWriteEvery == 0 {
					rwm.Lock()
					rwm.Unlock()
				} else {
					rwm.RLock()
					for k := 0; k < rwLocalWork; k++ {
						foo = foo*6364136223846793005 + 1442695040888963407
					}
					rwm.RUnlock()
				}
			}
			sinks[g] = foo
		}(g)
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	d := time.Since(t0)
	for _, s := range sinks {
		rwSink += s
	}
	return d
}
