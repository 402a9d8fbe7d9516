// Go's side of the cond and once benchmarks (bench/cond_once_bench.cpp is
// goro's): Once.Do on a done Once, and a round trip between two goroutines
// taking turns through one Mutex and Cond.

package main

import (
	"fmt"
	"sync"
	"time"
)

func init() {
	workloads = append(workloads,
		workload{"once_done", fixed(1), runOnceDone},
		workload{"cond_pingpong", fixed(2), runCondPingpong},
	)
}

// runOnceDone: GOMAXPROCS 1. Do on a Once that is done, 20,000,000 times
// after the first call ran f; ns per call.
func runOnceDone(procs int) ([]result, error) {
	const n = 20_000_000
	var once sync.Once
	calls := 0
	f := func() { calls++ }
	once.Do(f)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		once.Do(f)
	}
	d := time.Since(t0)
	if calls != 1 {
		return nil, fmt.Errorf("once_done: f ran %d times", calls)
	}
	return []result{{fmt.Sprintf("once_done/procs:%d", procs), nsPer(d, n), "ns/op"}}, nil
}

// runCondPingpong: GOMAXPROCS 2. Two goroutines take turns through one Mutex
// and Cond (each waits until the shared turn is its own, flips it and
// signals the other), 100,000 round trips after 10,000 of warm-up; ns per
// round trip.
func runCondPingpong(procs int) ([]result, error) {
	const rounds = 100_000
	condRound(rounds / 10) // warm-up
	d := condRound(rounds)
	return []result{{fmt.Sprintf("cond_pingpong/procs:%d", procs), nsPer(d, rounds), "ns/op"}}, nil
}

func condRound(rounds int) time.Duration {
	var m sync.Mutex
	c := sync.NewCond(&m)
	turn := 0
	var done sync.WaitGroup
	done.Add(2)
	player := func(me int) {
		defer done.Done()
		for i := 0; i < rounds; i++ {
			m.Lock()
			for turn != me {
				c.Wait()
			}
			turn = 1 - me
			c.Signal()
			m.Unlock()
		}
	}
	t0 := time.Now()
	go player(0)
	go player(1)
	done.Wait()
	return time.Since(t0)
}
