// Command peer is the Go side of goro's peer benchmarks: the same workloads
// that bench/*.cpp runs on goro, written with plain goroutines and channels,
// so that bench/compare.py can put goro beside Go from one run.
//
// Every result is printed on its own line as
//
//	RESULT <name> <value> <unit>
//
// where unit is ns/op, ms or bytes/goroutine. Anything else on stdout is
// commentary and is ignored by compare.py. Errors go to stderr and make the
// exit status non-zero.
//
// Usage:
//
//	peer -bench all                      every workload, each in a fresh process
//	peer -bench spawn_join_1M            that workload at its default procs
//	peer -bench spawn_join_1M -procs 4   that workload at GOMAXPROCS=4
//	peer -bench chan_pingpong/procs:2    one instance, by its full name
//	peer -list                           the instance names that "all" runs
//	peer -version                        the Go release this binary was built with
//
// -bench also takes a comma-separated list. When more than one instance is
// selected, each runs in a child process of its own (this program re-executed
// with one instance), so that no workload inherits another's heap, stack
// caches or free goroutines; parked_mem in particular would otherwise reuse
// memory that an earlier workload had already made resident.
package main

import (
	"errors"
	"flag"
	"fmt"
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

// result is one RESULT line.
type result struct {
	name  string
	value float64
	unit  string
}

// workload is one benchmark family. procs gives the GOMAXPROCS values that
// "all" runs it at; a workload without a procs dimension (parked_mem) has
// procs == nil and its name carries no /procs:N suffix.
type workload struct {
	name  string
	procs func() []int
	run   func(procs int) ([]result, error)
}

func fixed(ps ...int) func() []int { return func() []int { return ps } }

func allCPUs() []int { return []int{runtime.NumCPU()} }

// scalingProcs: the GOMAXPROCS values of the Ps curve, and NumCPU.
func scalingProcs() []int {
	ps := []int{1, 2, 4, 8, 16, 64}
	for _, p := range ps {
		if p == runtime.NumCPU() {
			return ps
		}
	}
	return append(ps, runtime.NumCPU())
}

var workloads = []workload{
	{"yield_switch", fixed(1), runYieldSwitch},
	{"spawn_join_1M", fixed(1, 2), runSpawnJoin},
	{"chan_pingpong", fixed(1, 2), runChanPingPong},
	{"skynet", scalingProcs, runSkynet},
	{"parked_mem", nil, runParkedMem},
	// How cost grows (bench/README.md, "Scaling"): spawn+join and parked
	// memory at 10^3..10^7 goroutines, skynet at 1..64 Ps (above).
	{"spawn_join_1k", fixed(2), spawnJoinN("spawn_join_1k", 1_000)},
	{"spawn_join_10k", fixed(2), spawnJoinN("spawn_join_10k", 10_000)},
	{"spawn_join_100k", fixed(2), spawnJoinN("spawn_join_100k", 100_000)},
	{"spawn_join_10M", fixed(2), spawnJoinN("spawn_join_10M", 10_000_000)},
	{"parked_mem_1k", nil, parkedMemN("parked_mem_1k", 1_000)},
	{"parked_mem_10k", nil, parkedMemN("parked_mem_10k", 10_000)},
	{"parked_mem_1M", nil, parkedMemN("parked_mem_1M", 1_000_000)},
	{"sleep_lateness", fixed(1), runSleepLateness},
	{"mutex_contention", fixed(2), runMutexContention},
	{"sleep_timers", fixed(1, 2), runSleepTimers},
	{"after_select", fixed(2), runAfterSelect},
}

// instance is a workload at one GOMAXPROCS value (0: leave the default).
type instance struct {
	w     *workload
	procs int
}

func (in instance) name() string {
	if in.w.procs == nil {
		return in.w.name
	}
	return fmt.Sprintf("%s/procs:%d", in.w.name, in.procs)
}

func findWorkload(name string) *workload {
	for i := range workloads {
		if workloads[i].name == name {
			return &workloads[i]
		}
	}
	return nil
}

func workloadNames() string {
	names := make([]string, len(workloads))
	for i, w := range workloads {
		names[i] = w.name
	}
	return strings.Join(names, ", ")
}

// selectInstances turns the -bench and -procs flags into the instances to run.
func selectInstances(spec string, procs int) ([]instance, error) {
	var out []instance
	seen := map[string]bool{}
	add := func(in instance) {
		if !seen[in.name()] {
			seen[in.name()] = true
			out = append(out, in)
		}
	}
	expand := func(w *workload) {
		switch {
		case w.procs == nil:
			add(instance{w, procs})
		case procs > 0:
			add(instance{w, procs})
		default:
			for _, p := range w.procs() {
				add(instance{w, p})
			}
		}
	}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
			continue
		case item == "all":
			for i := range workloads {
				expand(&workloads[i])
			}
		case strings.Contains(item, "/"):
			base, arg, _ := strings.Cut(item, "/")
			w := findWorkload(base)
			if w == nil {
				return nil, fmt.Errorf("unknown benchmark %q (workloads: %s)", item, workloadNames())
			}
			if w.procs == nil {
				return nil, fmt.Errorf("bad benchmark name %q: %s has no /procs:N (use -procs to set GOMAXPROCS)", item, base)
			}
			ps, ok := strings.CutPrefix(arg, "procs:")
			if !ok {
				return nil, fmt.Errorf("bad benchmark name %q: expected %s/procs:N", item, base)
			}
			p, err := strconv.Atoi(ps)
			if err != nil || p < 1 {
				return nil, fmt.Errorf("bad procs in %q: want a positive integer", item)
			}
			if procs > 0 && procs != p {
				return nil, fmt.Errorf("-procs %d contradicts %q", procs, item)
			}
			add(instance{w, p})
		default:
			w := findWorkload(item)
			if w == nil {
				return nil, fmt.Errorf("unknown benchmark %q (workloads: %s, or all)", item, workloadNames())
			}
			expand(w)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no benchmark selected")
	}
	return out, nil
}

func main() {
	bench := flag.String("bench", "all", "benchmark to run: a workload, a full name like chan_pingpong/procs:2, a comma-separated list, or all")
	procs := flag.Int("procs", 0, "GOMAXPROCS for the selected workloads (0: each workload's default)")
	list := flag.Bool("list", false, "print the names of the selected instances and exit")
	version := flag.Bool("version", false, "print the Go version this program was built with and exit")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "peer: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	if *version {
		fmt.Printf("go version %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return
	}
	if *procs < 0 {
		fmt.Fprintln(os.Stderr, "peer: -procs must be >= 0")
		os.Exit(2)
	}
	ins, err := selectInstances(*bench, *procs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(2)
	}
	if *list {
		for _, in := range ins {
			fmt.Println(in.name())
		}
		return
	}
	if len(ins) == 1 {
		if err := runOne(ins[0]); err != nil {
			fmt.Fprintf(os.Stderr, "peer: %s: %v\n", ins[0].name(), err)
			os.Exit(1)
		}
		return
	}
	failed := 0
	for _, in := range ins {
		if err := runChild(in); err != nil {
			fmt.Fprintf(os.Stderr, "peer: %s: %v\n", in.name(), err)
			failed++
		}
	}
	if failed > 0 {
		os.Exit(1)
	}
}

func runOne(in instance) error {
	if in.procs > 0 {
		runtime.GOMAXPROCS(in.procs)
	}
	rs, err := in.w.run(in.procs)
	for _, r := range rs {
		fmt.Printf("RESULT %s %s %s\n", r.name, strconv.FormatFloat(r.value, 'g', 6, 64), r.unit)
	}
	return err
}

// runChild runs one instance in a fresh copy of this program, passing its
// output through.
func runChild(in instance) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"-bench", in.name()}
	if in.w.procs == nil && in.procs > 0 {
		args = append(args, "-procs", strconv.Itoa(in.procs))
	}
	cmd := exec.Command(self, args...)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	return cmd.Run()
}

// ---------------------------------------------------------------------------
// Workloads. Each keeps to a few seconds on a 2-core machine.

func nsPer(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / float64(n) }

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// yield_switch: two goroutines on one P each call runtime.Gosched N times;
// every Gosched hands the P to the other one. Reports ns per switch.
func runYieldSwitch(procs int) ([]result, error) {
	const n = 2_000_000
	yieldRound(n / 10) // warm-up
	d := yieldRound(n)
	return []result{{fmt.Sprintf("yield_switch/procs:%d", procs), nsPer(d, 2*n), "ns/op"}}, nil
}

func yieldRound(n int) time.Duration {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	worker := func() {
		defer done.Done()
		ready.Done()
		<-start
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
	}
	ready.Add(2)
	done.Add(2)
	go worker()
	go worker()
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	return time.Since(t0)
}

// spawn_join_1M: spawn a million goroutines that each call wg.Done, then
// wg.Wait. One warm-up round, then the median of five rounds, in ns per
// goroutine.
func runSpawnJoin(procs int) ([]result, error) {
	return spawnJoinN("spawn_join_1M", 1_000_000)(procs)
}

// spawnJoinN: spawn_join_1M's rounds at n goroutines, under name.
func spawnJoinN(name string, n int) func(int) ([]result, error) {
	return func(procs int) ([]result, error) {
		spawnJoinRound(n) // warm-up
		rounds := make([]float64, 5)
		for i := range rounds {
			rounds[i] = nsPer(spawnJoinRound(n), n)
		}
		return []result{{fmt.Sprintf("%s/procs:%d", name, procs), median(rounds), "ns/op"}}, nil
	}
}

func spawnJoinRound(n int) time.Duration {
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
	}
	wg.Wait()
	return time.Since(t0)
}

// chan_pingpong: two goroutines bounce a value over two unbuffered channels.
// Reports ns per round trip (one send and one receive each way).
func runChanPingPong(procs int) ([]result, error) {
	const n = 500_000
	pingPongRound(n / 10) // warm-up
	d := pingPongRound(n)
	return []result{{fmt.Sprintf("chan_pingpong/procs:%d", procs), nsPer(d, n), "ns/op"}}, nil
}

func pingPongRound(n int) time.Duration {
	ping := make(chan int)
	pong := make(chan int)
	done := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			pong <- <-ping
		}
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

// skynet: the classic tree of 1,000,000 leaf goroutines with fan-out 10; a
// leaf sends its number, a parent sums its ten children from an unbuffered
// channel and sends the sum up. One cold run, in ms for the whole tree.
func runSkynet(procs int) ([]result, error) {
	const leaves, fanout = 1_000_000, 10
	const want = int64(leaves) * (leaves - 1) / 2 // 499999500000
	c := make(chan int64)
	t0 := time.Now()
	go skynet(c, 0, leaves, fanout)
	sum := <-c
	d := time.Since(t0)
	rs := []result{{fmt.Sprintf("skynet/procs:%d", procs), ms(d), "ms"}}
	if sum != want {
		return nil, fmt.Errorf("wrong sum %d, want %d", sum, want)
	}
	return rs, nil
}

func skynet(c chan<- int64, num int64, size, div int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int64)
	sub := size / div
	for i := 0; i < div; i++ {
		go skynet(rc, num+int64(i*sub), sub, div)
	}
	var sum int64
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

// mutex_contention: four goroutines each lock a sync.Mutex, increment a
// counter and unlock, 250,000 times, all started together from a gate.
// Reports ns per Lock+Unlock pair over all of them. A warm-up of a tenth
// first.
func runMutexContention(procs int) ([]result, error) {
	const goroutines, perGoroutine = 4, 250_000
	if _, err := mutexRound(goroutines, perGoroutine/10); err != nil { // warm-up
		return nil, err
	}
	d, err := mutexRound(goroutines, perGoroutine)
	if err != nil {
		return nil, err
	}
	return []result{{fmt.Sprintf("mutex_contention/procs:%d", procs), nsPer(d, goroutines*perGoroutine), "ns/op"}}, nil
}

func mutexRound(goroutines, n int) (time.Duration, error) {
	var mu sync.Mutex
	counter := 0
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(goroutines)
	done.Add(goroutines)
	for g := 0; g < goroutines; g++ {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			for i := 0; i < n; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	d := time.Since(t0)
	if counter != goroutines*n {
		return d, fmt.Errorf("lost increments: %d, want %d", counter, goroutines*n)
	}
	return d, nil
}

// parked_mem: 100,000 goroutines, each blocked receiving on a channel of its
// own. Reports the growth of resident memory (RSS from /proc/self/statm,
// each reading after runtime.GC) divided by the number of goroutines; the
// goroutine's channel is counted as part of it, the slice that holds the
// channels is not. Then releases them all.
//
// parked_mem_with_pagetables adds the growth of the process's page tables
// (VmPTE in /proc/self/status), which RSS leaves out: negligible for Go's
// densely packed 2 KB stacks, but goro's stacks are 256 KB apart, so each
// page-table page (one per 2 MB of touched address space) serves only 8 of
// its goroutines.
func runParkedMem(procs int) ([]result, error) {
	return parkedMemN("parked_mem", 100_000)(procs)
}

// parkedMemN: parked_mem's measurement at n goroutines, under name (and
// name_with_pagetables).
func parkedMemN(name string, n int) func(int) ([]result, error) {
	return func(int) ([]result, error) { return parkedMem(name, n) }
}

func parkedMem(name string, n int) ([]result, error) {
	chans := make([]chan struct{}, n)
	for i := range chans {
		chans[i] = nil // make the slice's pages resident before the baseline
	}
	runtime.GC()
	before, err := rssBytes()
	if err != nil {
		return nil, err
	}
	ptBefore, err := pageTableBytes()
	if err != nil {
		return nil, err
	}

	var started, exited sync.WaitGroup
	started.Add(n)
	exited.Add(n)
	for i := 0; i < n; i++ {
		ch := make(chan struct{})
		chans[i] = ch
		go func() {
			started.Done()
			<-ch
			exited.Done()
		}()
	}
	started.Wait()
	time.Sleep(50 * time.Millisecond) // let the last ones reach the receive
	runtime.GC()
	after, err := rssBytes()
	if err != nil {
		return nil, err
	}
	ptAfter, err := pageTableBytes()
	if err != nil {
		return nil, err
	}

	for _, ch := range chans {
		close(ch)
	}
	exited.Wait()
	return []result{
		{name, float64(after-before) / float64(n), "bytes/goroutine"},
		{name + "_with_pagetables", float64(after-before+ptAfter-ptBefore) / float64(n), "bytes/goroutine"},
	}, nil
}

// pageTableBytes: VmPTE from /proc/self/status, the memory the kernel uses
// for this process's page tables.
func pageTableBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmPTE:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb * 1024, nil
				}
			}
			break
		}
	}
	return 0, fmt.Errorf("no VmPTE line in /proc/self/status")
}

func rssBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("unexpected /proc/self/statm: %q", b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("unexpected /proc/self/statm: %q", b)
	}
	return pages * int64(os.Getpagesize()), nil
}

// sleep_lateness: on one P, a goroutine spins in a loop without calls (so it
// has no cooperative preemption point; only Go's asynchronous, signal-based
// preemption by sysmon can take the P from it) while another sleeps 1 ms 200
// times and records how late each wake-up is. Reports the worst and the
// median lateness in ms.

var (
	spinCounter uint64      // written by the spinner so its loop has a body
	spinStop    atomic.Bool // checked once per 2^20 increments
)

// spin has no call inside its loop: the inner loop is increments of a global,
// and an atomic load compiles to a plain load, not a call.
func spin(done chan<- struct{}) {
	for !spinStop.Load() {
		for i := 0; i < 1<<20; i++ {
			spinCounter++
		}
	}
	close(done)
}

func runSleepLateness(procs int) ([]result, error) {
	const sleeps = 200
	spinStop.Store(false)
	spinDone := make(chan struct{})
	lateness := make([]float64, 0, sleeps)
	sleeperDone := make(chan struct{})
	go spin(spinDone)
	go func() {
		for i := 0; i < sleeps; i++ {
			t0 := time.Now()
			time.Sleep(time.Millisecond)
			lateness = append(lateness, ms(time.Since(t0)-time.Millisecond))
		}
		close(sleeperDone)
	}()
	<-sleeperDone
	spinStop.Store(true)
	<-spinDone
	worst := lateness[0]
	for _, l := range lateness {
		if l > worst {
			worst = l
		}
	}
	return []result{
		{fmt.Sprintf("sleep_lateness/procs:%d", procs), worst, "ms"},
		{fmt.Sprintf("sleep_lateness_median/procs:%d", procs), median(lateness), "ms"},
	}, nil
}

// Timer throughput. timerGoroutines goroutines wait at a gate, then each
// does timerSleeps timed waits, wait k of goroutine i lasting
// 1 + (i + 37k) % 100 microseconds, so about 10,000 timers are pending at
// any moment, due at scattered times. Reports elapsed / (goroutines * waits)
// from closing the gate to the last goroutine done: ns per timer fired,
// including the park and the wake-up. A warm-up round of a tenth of the
// waits first. The sleeps add up to far less than the elapsed time, so this
// measures the timer and scheduler work, not the durations.
const timerGoroutines, timerSleeps = 10_000, 20

func timerWait(i, k int) time.Duration {
	return time.Duration(1+(i+37*k)%100) * time.Microsecond
}

func timerRound(sleeps int, wait func(time.Duration)) time.Duration {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(timerGoroutines)
	done.Add(timerGoroutines)
	for i := 0; i < timerGoroutines; i++ {
		go func(i int) {
			defer done.Done()
			ready.Done()
			<-start
			for k := 0; k < sleeps; k++ {
				wait(timerWait(i, k))
			}
		}(i)
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	return time.Since(t0)
}

func runTimerBench(name string, procs int, wait func(time.Duration)) ([]result, error) {
	timerRound(timerSleeps/10, wait) // warm-up
	d := timerRound(timerSleeps, wait)
	return []result{{fmt.Sprintf("%s/procs:%d", name, procs), nsPer(d, timerGoroutines*timerSleeps), "ns/op"}}, nil
}

// sleep_timers: each wait is time.Sleep.
func runSleepTimers(procs int) ([]result, error) {
	return runTimerBench("sleep_timers", procs, time.Sleep)
}

// after_select: each wait is a select between a channel nobody sends on and
// time.After, the usual timeout: a timer, a channel and a select park per
// wait.
func runAfterSelect(procs int) ([]result, error) {
	never := make(chan int)
	return runTimerBench("after_select", procs, func(d time.Duration) {
		select {
		case <-never:
		case <-time.After(d):
		}
	})
}
