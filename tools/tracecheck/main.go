// Command tracecheck parses a goro execution trace with Go's own trace
// reader (golang.org/x/exp/trace, the parser behind `go tool trace`) and
// checks facts about it. It fails on any parse error: the reader validates
// every state transition against Go's scheduler model, so a trace goro
// writes wrongly does not pass.
//
//	tracecheck [flags] FILE
//
// Assertions (each may be given several times where it says so):
//
//	-creates N          exactly N goroutines created (GoCreate, and the
//	                    GoCreateSyscall goro writes for a goroutine made by
//	                    a thread without a P: main, foreign threads)
//	-min-creates N      at least N created
//	-foreign N          exactly N of them created from threads without a P
//	-block REASON=N     at least N transitions to waiting with that reason
//	                    ("chan receive", "sync.Mutex.Lock", ...); repeatable
//	-min-syscalls N     at least N blocking calls (GoSyscallBegin)
//	-min-steals N       at least N Ps taken from a blocking call (ProcSteal)
//	-procs N            GOMAXPROCS was set to N at some point (ProcsChange)
//	-label NAME         some goroutine carries the label NAME; repeatable
//	-start-func SUBSTR  some created goroutine's start frame names SUBSTR
//	-expect-error       invert: succeed only if the trace fails to parse
//
// It prints a summary of what it counted.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/exp/trace"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

type counts struct {
	events, creates, foreign, starts, syscalls, steals, unblocks, destroys int
	blocks                                                                 map[string]int
	procs                                                                  map[int64]bool
	labels                                                                 map[string]bool
	startFuncs                                                             map[string]bool
}

func parse(path string) (*counts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	c := &counts{blocks: map[string]int{}, procs: map[int64]bool{}, labels: map[string]bool{}, startFuncs: map[string]bool{}}
	for {
		ev, err := r.ReadEvent()
		if errors.Is(err, io.EOF) {
			return c, nil
		}
		if err != nil {
			return c, fmt.Errorf("after %d events: %w", c.events, err)
		}
		c.events++
		switch ev.Kind() {
		case trace.EventStateTransition:
			st := ev.StateTransition()
			switch st.Resource.Kind {
			case trace.ResourceGoroutine:
				from, to := st.Goroutine()
				switch {
				case from == trace.GoNotExist && (to == trace.GoRunnable || to == trace.GoWaiting):
					c.creates++
					for fr := range st.Stack.Frames() {
						c.startFuncs[fr.Func] = true
					}
				case from == trace.GoNotExist && to == trace.GoSyscall:
					c.creates++
					c.foreign++
				case from == trace.GoRunnable && to == trace.GoRunning:
					c.starts++
				case from == trace.GoRunning && to == trace.GoSyscall:
					c.syscalls++
				case from == trace.GoRunning && to == trace.GoWaiting:
					c.blocks[st.Reason]++
				case from == trace.GoWaiting && to == trace.GoRunnable:
					c.unblocks++
				case to == trace.GoNotExist:
					c.destroys++
				}
			case trace.ResourceProc:
				// A ProcSteal is a transition of a P to idle made by a thread
				// other than the P's own.
				if _, to := st.Proc(); to == trace.ProcIdle && ev.Proc() != st.Resource.Proc() {
					c.steals++
				}
			}
		case trace.EventMetric:
			m := ev.Metric()
			if m.Name == "/sched/gomaxprocs:threads" {
				c.procs[int64(m.Value.Uint64())] = true
			}
		case trace.EventLabel:
			c.labels[ev.Label().Label] = true
		}
	}
}

func main() {
	creates := flag.Int("creates", -1, "exactly N goroutines created")
	minCreates := flag.Int("min-creates", -1, "at least N goroutines created")
	foreign := flag.Int("foreign", -1, "exactly N goroutines created from threads without a P")
	minSyscalls := flag.Int("min-syscalls", -1, "at least N blocking calls")
	minSteals := flag.Int("min-steals", -1, "at least N Ps taken from blocking calls")
	procs := flag.Int64("procs", -1, "GOMAXPROCS set to N at some point")
	expectError := flag.Bool("expect-error", false, "succeed only if the trace fails to parse")
	var blocks, labels, startFuncs multi
	flag.Var(&blocks, "block", "REASON=N: at least N blocks with that reason (repeatable)")
	flag.Var(&labels, "label", "some goroutine has this label (repeatable)")
	flag.Var(&startFuncs, "start-func", "some created goroutine's start frame contains this (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: tracecheck [flags] FILE")
		os.Exit(2)
	}
	path := flag.Arg(0)
	c, err := parse(path)
	if *expectError {
		if err == nil {
			fmt.Fprintf(os.Stderr, "tracecheck: %s: parsed without error (%d events), but an error was expected\n", path, c.events)
			os.Exit(1)
		}
		fmt.Printf("tracecheck: %s: rejected as expected: %v\n", path, err)
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tracecheck: %s: %v\n", path, err)
		os.Exit(1)
	}
	var reasons []string
	for k, v := range c.blocks {
		reasons = append(reasons, fmt.Sprintf("%q=%d", k, v))
	}
	sort.Strings(reasons)
	fmt.Printf("tracecheck: %s: %d events, %d creates (%d from threads without a P), %d starts, %d unblocks, %d exits, %d syscalls, %d steals, blocks: %s\n",
		path, c.events, c.creates, c.foreign, c.starts, c.unblocks, c.destroys, c.syscalls, c.steals, strings.Join(reasons, " "))
	var fails []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			fails = append(fails, fmt.Sprintf(format, args...))
		}
	}
	if *creates >= 0 {
		check(c.creates == *creates, "want exactly %d goroutines created, trace has %d", *creates, c.creates)
	}
	if *minCreates >= 0 {
		check(c.creates >= *minCreates, "want at least %d goroutines created, trace has %d", *minCreates, c.creates)
	}
	if *foreign >= 0 {
		check(c.foreign == *foreign, "want exactly %d goroutines created from threads without a P, trace has %d", *foreign, c.foreign)
	}
	if *minSyscalls >= 0 {
		check(c.syscalls >= *minSyscalls, "want at least %d blocking calls, trace has %d", *minSyscalls, c.syscalls)
	}
	if *minSteals >= 0 {
		check(c.steals >= *minSteals, "want at least %d Ps taken from blocking calls, trace has %d", *minSteals, c.steals)
	}
	if *procs >= 0 {
		check(c.procs[*procs], "want GOMAXPROCS set to %d, trace has %v", *procs, c.procs)
	}
	for _, b := range blocks {
		i := strings.LastIndex(b, "=")
		if i < 0 {
			fmt.Fprintf(os.Stderr, "tracecheck: -block %q: want REASON=N\n", b)
			os.Exit(2)
		}
		n, err := strconv.Atoi(b[i+1:])
		if err != nil {
			fmt.Fprintf(os.Stderr, "tracecheck: -block %q: N must be a number\n", b)
			os.Exit(2)
		}
		check(c.blocks[b[:i]] >= n, "want at least %d blocks with reason %q, trace has %d", n, b[:i], c.blocks[b[:i]])
	}
	for _, l := range labels {
		check(c.labels[l], "want a goroutine labelled %q, trace has %v", l, c.labels)
	}
	for _, s := range startFuncs {
		found := false
		for fn := range c.startFuncs {
			if strings.Contains(fn, s) {
				found = true
			}
		}
		check(found, "want a goroutine whose start frame names %q, trace has %v", s, c.startFuncs)
	}
	if len(fails) > 0 {
		for _, f := range fails {
			fmt.Fprintf(os.Stderr, "tracecheck: %s: %s\n", path, f)
		}
		os.Exit(1)
	}
}
