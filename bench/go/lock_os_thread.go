// Go's side of the lock_os_thread benchmark (bench/lock_os_thread_bench.cpp
// is goro's): a park/ready round trip when one goroutine is locked to its
// thread (runtime.LockOSThread), so each hand-over is one between threads.
// chan_pingpong (main.go) is the same workload unlocked.

package main

import (
	"fmt"
	"runtime"
	"time"
)

func init() {
	workloads = append(workloads,
		workload{"locked_pingpong", fixed(2), runLockedPingPong},
	)
}

// runLockedPingPong: GOMAXPROCS 2. A locked goroutine echoes what main sends
// over two unbuffered channels; ns per round trip, 20,000 after 2,000 of
// warm-up.
func runLockedPingPong(procs int) ([]result, error) {
	const n = 20_000
	lockedPingPongRound(n / 10)
	d := lockedPingPongRound(n)
	return []result{{fmt.Sprintf("locked_pingpong/procs:%d", procs), nsPer(d, n), "ns/op"}}, nil
}

func lockedPingPongRound(n int) time.Duration {
	ping := make(chan int)
	pong := make(chan int)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		for i := 0; i < n; i++ {
			pong <- <-ping
		}
		runtime.UnlockOSThread()
		close(done)
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	d := time.Since(t0)
	<-done
	return d
}
