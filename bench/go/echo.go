package main

// tcp_echo_<N>: how cost grows with connections. An echo server on loopback
// (here: Go's net package, one goroutine per connection) and a load client
// in a separate process: N connections, each sending 64 bytes and reading
// them back in a loop for echoSeconds after a warm-up. The client is this
// binary's -echo-client mode for every server (Go, goro, Tokio: compare.py
// passes its path as GORO_ECHO_CLIENT), pinned to the last CPU with taskset
// for every server alike, so the servers differ and nothing else does.
//
// Results, all from the client's measuring window: <name>/procs:P is the
// wall time per request over all connections (1/throughput, ns/op, lower is
// better), <name>_p50 and <name>_p99 the median and 99th percentile of one
// request's round trip (ns/op).

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	echoSize    = 64
	echoWarmup  = 500 * time.Millisecond
	echoSeconds = 3 * time.Second
)

func runTCPEcho(name string, conns int) func(int) ([]result, error) {
	return func(procs int) ([]result, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					buf := make([]byte, echoSize)
					for {
						n, err := c.Read(buf)
						if n > 0 {
							if _, werr := c.Write(buf[:n]); werr != nil {
								return
							}
						}
						if err != nil {
							return
						}
					}
				}()
			}
		}()
		defer ln.Close()
		perReq, p50, p99, err := spawnEchoClient(ln.Addr().String(), conns)
		if err != nil {
			return nil, err
		}
		base, suffix := name, fmt.Sprintf("/procs:%d", procs)
		return []result{
			{base + suffix, perReq, "ns/op"},
			{base + "_p50" + suffix, p50, "ns/op"},
			{base + "_p99" + suffix, p99, "ns/op"},
		}, nil
	}
}

// spawnEchoClient runs the client process against addr and parses its
// ECHO line.
func spawnEchoClient(addr string, conns int) (perReq, p50, p99 float64, err error) {
	client := os.Getenv("GORO_ECHO_CLIENT")
	if client == "" {
		if client, err = os.Executable(); err != nil {
			return
		}
	}
	args := []string{client, "-echo-client", addr, "-conns", strconv.Itoa(conns)}
	if cpu := runtime.NumCPU() - 1; cpu > 0 {
		if path, lerr := exec.LookPath("taskset"); lerr == nil {
			args = append([]string{path, "-c", strconv.Itoa(cpu)}, args...)
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("echo client: %v", err)
	}
	return parseEchoLine(string(out))
}

// parseEchoLine reads "ECHO ns_per_req=X p50_ns=Y p99_ns=Z ...".
func parseEchoLine(out string) (perReq, p50, p99 float64, err error) {
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "ECHO ") {
			continue
		}
		vals := map[string]float64{}
		for _, f := range strings.Fields(line)[1:] {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				continue
			}
			if x, perr := strconv.ParseFloat(v, 64); perr == nil {
				vals[k] = x
			}
		}
		var ok1, ok2, ok3 bool
		perReq, ok1 = vals["ns_per_req"]
		p50, ok2 = vals["p50_ns"]
		p99, ok3 = vals["p99_ns"]
		if ok1 && ok2 && ok3 {
			return perReq, p50, p99, nil
		}
	}
	return 0, 0, 0, fmt.Errorf("echo client printed no ECHO line: %q", out)
}

// echoClient is the -echo-client mode: conns connections to addr, each a
// request loop; prints one ECHO line.
func echoClient(addr string, conns int) error {
	cs := make([]net.Conn, conns)
	// Dial at most 128 at a time, retrying: a burst of 10,000 SYNs overflows
	// a listen backlog and some would time out.
	sem := make(chan struct{}, 128)
	var dialErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range cs {
		i := i
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var err error
			for try := 0; try < 20; try++ {
				if cs[i], err = net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			mu.Lock()
			dialErr = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	if dialErr != nil {
		return fmt.Errorf("dial %s: %v", addr, dialErr)
	}
	var measuring, stop atomic.Bool
	lat := make([][]int64, conns)
	errs := make(chan error, conns)
	for i, c := range cs {
		i, c := i, c
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			out := make([]byte, echoSize)
			in := make([]byte, echoSize)
			r := bufio.NewReaderSize(c, echoSize)
			for !stop.Load() {
				t0 := time.Now()
				if _, err := c.Write(out); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(r, in); err != nil {
					errs <- err
					return
				}
				if measuring.Load() {
					lat[i] = append(lat[i], int64(time.Since(t0)))
				}
			}
		}()
	}
	time.Sleep(echoWarmup)
	measuring.Store(true)
	t0 := time.Now()
	time.Sleep(echoSeconds)
	measuring.Store(false)
	elapsed := time.Since(t0)
	stop.Store(true)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	var all []int64
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return errors.New("no request completed in the measuring window")
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	pct := func(p float64) int64 { return all[int(p*float64(len(all)-1))] }
	fmt.Printf("ECHO ns_per_req=%.1f p50_ns=%d p99_ns=%d requests=%d conns=%d seconds=%.3f\n",
		float64(elapsed.Nanoseconds())/float64(len(all)), pct(0.50), pct(0.99), len(all), conns,
		elapsed.Seconds())
	return nil
}
