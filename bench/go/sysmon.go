// Go's side of the sysmon benchmarks (bench/sysmon_bench.cpp is goro's):
// handoff latency behind a blocking system call, and the cost of a system
// call that goes through entersyscall/exitsyscall. sleep_lateness is in
// main.go.

package main

import (
	"fmt"
	"syscall"
	"time"
)

func init() {
	workloads = append(workloads,
		workload{"handoff_latency", fixed(1), runHandoffLatency},
		workload{"blocking_call", fixed(1), runBlockingCall},
	)
}

// runHandoffLatency: GOMAXPROCS 1. A goroutine starts a second one (queued
// behind it) and then blocks reading a pipe; the time from just before the
// read to the moment the second goroutine runs is how long the P sat idle
// behind the call (until sysmon retook it). The second goroutine writes the
// byte that ends the read. 200 rounds after 20 of warm-up; median, in ns.
func runHandoffLatency(procs int) ([]result, error) {
	const rounds, warmup = 200, 20
	var fd [2]int
	if err := syscall.Pipe(fd[:]); err != nil {
		return nil, err
	}
	defer syscall.Close(fd[0])
	defer syscall.Close(fd[1])
	lat := make([]float64, 0, rounds)
	buf := make([]byte, 1)
	for i := 0; i < warmup+rounds; i++ {
		ran := make(chan time.Time, 1)
		go func() {
			ran <- time.Now()
			syscall.Write(fd[1], []byte{1})
		}()
		t0 := time.Now()
		if _, err := syscall.Read(fd[0], buf); err != nil {
			return nil, err
		}
		t1 := <-ran
		if i >= warmup {
			lat = append(lat, float64(t1.Sub(t0).Nanoseconds()))
		}
	}
	return []result{{fmt.Sprintf("handoff_latency/procs:%d", procs), median(lat), "ns/op"}}, nil
}

// runBlockingCall: getppid through syscall.Syscall, which brackets it with
// entersyscall/exitsyscall (syscall.Getppid itself is a raw call that does
// not). 1,000,000 calls after 100,000 of warm-up; ns per call.
func runBlockingCall(procs int) ([]result, error) {
	const n = 1000000
	for i := 0; i < n/10; i++ {
		syscall.Syscall(syscall.SYS_GETPPID, 0, 0, 0)
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		syscall.Syscall(syscall.SYS_GETPPID, 0, 0, 0)
	}
	return []result{{fmt.Sprintf("blocking_call/procs:%d", procs), nsPer(time.Since(t0), n), "ns/op"}}, nil
}
