// Go's side of the timer benchmarks (bench/timer_bench.cpp is goro's): many
// tickers delivering at once, and the cost of a Reset plus a Stop.

package main

import (
	"fmt"
	"sync"
	"time"
)

func init() {
	workloads = append(workloads,
		workload{"ticker_fanout", fixed(2), runTickerFanout},
		workload{"timer_reset_stop", fixed(1), runTimerResetStop},
	)
}

const fanoutGoroutines, fanoutTicks = 1000, 10

func fanoutRound() float64 {
	var done sync.WaitGroup
	done.Add(fanoutGoroutines)
	t0 := time.Now()
	for i := 0; i < fanoutGoroutines; i++ {
		go func() {
			tk := time.NewTicker(time.Millisecond)
			for k := 0; k < fanoutTicks; k++ {
				<-tk.C
			}
			tk.Stop()
			done.Done()
		}()
	}
	done.Wait()
	return float64(time.Since(t0).Nanoseconds()) / 1e6
}

// runTickerFanout: 1,000 goroutines, each with a ticker of its own (1 ms),
// receive 10 ticks each and stop it; elapsed ms from the start of the first
// goroutine to the end of the last, after a warm-up round.
func runTickerFanout(procs int) ([]result, error) {
	fanoutRound() // warm-up
	ms := fanoutRound()
	return []result{{fmt.Sprintf("ticker_fanout/procs:%d", procs), ms, "ms"}}, nil
}

// runTimerResetStop: one timer (1 h), Reset to 1 h and stopped 1,000,000
// times after 100,000 of warm-up; ns per Reset + Stop pair.
func runTimerResetStop(procs int) ([]result, error) {
	const n = 1000000
	t := time.NewTimer(time.Hour)
	for i := 0; i < n/10; i++ {
		t.Reset(time.Hour)
		t.Stop()
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		t.Reset(time.Hour)
		t.Stop()
	}
	return []result{{fmt.Sprintf("timer_reset_stop/procs:%d", procs), nsPer(time.Since(t0), n), "ns/op"}}, nil
}
