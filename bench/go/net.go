// Go's side of the network benchmarks (bench/net_bench.cpp is goro's): a
// 64-byte UDP datagram's round trip between two goroutines over loopback,
// and a one-byte round trip over two os.Pipe pipes (files the netpoller
// registers once, where goro's wait_readable registers per wait).

package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

func init() {
	workloads = append(workloads,
		workload{"udp_pingpong", fixed(2), runUDPPingpong},
		workload{"pipe_pingpong", fixed(2), runPipePingpong},
	)
}

// udpRounds: a sends 64 bytes to b with WriteTo, b sends them back; n
// round trips, total time.
func udpRounds(n int) (time.Duration, error) {
	a, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, err
	}
	defer a.Close()
	b, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, err
	}
	defer b.Close()
	aaddr, baddr := a.LocalAddr(), b.LocalAddr()
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 64)
		for i := 0; i < n; i++ {
			k, _, err := b.ReadFrom(buf)
			if err != nil {
				break
			}
			b.WriteTo(buf[:k], aaddr)
		}
		close(done)
	}()
	buf := make([]byte, 64)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if _, err := a.WriteTo(buf, baddr); err != nil {
			return 0, err
		}
		if _, _, err := a.ReadFrom(buf); err != nil {
			return 0, err
		}
	}
	d := time.Since(t0)
	<-done
	return d, nil
}

// runUDPPingpong: 100,000 round trips after 10,000 of warm-up; ns each.
func runUDPPingpong(procs int) ([]result, error) {
	const n = 100000
	if _, err := udpRounds(n / 10); err != nil {
		return nil, err
	}
	d, err := udpRounds(n)
	if err != nil {
		return nil, err
	}
	return []result{{fmt.Sprintf("udp_pingpong/procs:%d", procs), nsPer(d, n), "ns/op"}}, nil
}

func pipeRounds(n int) (time.Duration, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	qr, qw, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer func() { pr.Close(); pw.Close(); qr.Close(); qw.Close() }()
	done := make(chan struct{})
	go func() {
		b := make([]byte, 1)
		for i := 0; i < n; i++ {
			if _, err := pr.Read(b); err != nil {
				break
			}
			qw.Write(b)
		}
		close(done)
	}()
	b := []byte{1}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		pw.Write(b)
		if _, err := qr.Read(b); err != nil {
			return 0, err
		}
	}
	d := time.Since(t0)
	<-done
	return d, nil
}

// runPipePingpong: 100,000 round trips after 10,000 of warm-up; ns each.
func runPipePingpong(procs int) ([]result, error) {
	const n = 100000
	if _, err := pipeRounds(n / 10); err != nil {
		return nil, err
	}
	d, err := pipeRounds(n)
	if err != nil {
		return nil, err
	}
	return []result{{fmt.Sprintf("pipe_pingpong/procs:%d", procs), nsPer(d, n), "ns/op"}}, nil
}
