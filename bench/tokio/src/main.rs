//! The Tokio peer: the workloads of bench/go/main.go that Tokio's
//! multi-thread runtime can express, speaking the Go peer's protocol so that
//! bench/compare.py runs it beside goro and Go:
//!
//!   goro-tokio-peer -list          the workload instances, one per line
//!   goro-tokio-peer -version       the Tokio version it was built with
//!   goro-tokio-peer -bench NAME    runs NAME, prints "RESULT <name> <value> <unit>"
//!
//! procs:N is a multi-thread runtime of N worker threads (Go's GOMAXPROCS=N).
//! Differences from the Go workloads, also listed in bench/README.md:
//!   - Tokio has no unbuffered channel: chan_pingpong and skynet use
//!     mpsc::channel(1), the smallest bounded channel; chan_pingpong_oneshot
//!     is the same round trip over a fresh pair of oneshot channels each time
//!     (a Tokio-only row).
//!   - spawn_join counts down an atomic and wakes the joiner with a Notify:
//!     Go's wg.Done / wg.Wait (not a JoinHandle per task).
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Notify};

fn runtime(procs: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(procs)
        .build()
        .expect("tokio runtime")
}

fn ns_per(d: Duration, n: f64) -> f64 {
    d.as_nanos() as f64 / n
}

/// A Go WaitGroup for tasks: the last done() wakes the waiter.
struct WaitGroup {
    left: AtomicUsize,
    zero: Notify,
}

impl WaitGroup {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(WaitGroup { left: AtomicUsize::new(n), zero: Notify::new() })
    }
    fn add(&self, n: usize) {
        self.left.fetch_add(n, Ordering::Relaxed);
    }
    fn done(&self) {
        // AcqRel: the waiter sees what every finished task wrote.
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            // notify_one stores a permit if the waiter is not waiting yet.
            self.zero.notify_one();
        }
    }
    async fn wait(&self) {
        while self.left.load(Ordering::Acquire) != 0 {
            self.zero.notified().await;
        }
    }
}

async fn yield_round(n: usize) -> Duration {
    let wg = WaitGroup::new(2);
    let t0 = Instant::now();
    for _ in 0..2 {
        let wg = wg.clone();
        tokio::spawn(async move {
            for _ in 0..n {
                tokio::task::yield_now().await;
            }
            wg.done();
        });
    }
    wg.wait().await;
    t0.elapsed()
}

async fn spawn_join_round(n: usize) -> Duration {
    let wg = WaitGroup::new(0);
    let t0 = Instant::now();
    for _ in 0..n {
        wg.add(1);
        let wg = wg.clone();
        tokio::spawn(async move { wg.done() });
    }
    wg.wait().await;
    t0.elapsed()
}

async fn pingpong_round(n: usize) -> Duration {
    let (ping_tx, mut ping_rx) = mpsc::channel::<usize>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<usize>(1);
    let echo = tokio::spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            if pong_tx.send(v).await.is_err() {
                break;
            }
        }
    });
    let t0 = Instant::now();
    for i in 0..n {
        ping_tx.send(i).await.expect("ping");
        pong_rx.recv().await.expect("pong");
    }
    let d = t0.elapsed();
    drop(ping_tx);
    echo.await.expect("echo task");
    d
}

async fn oneshot_pingpong_round(n: usize) -> Duration {
    // Each round trip: a oneshot to the echo task carrying the oneshot back.
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, oneshot::Sender<usize>)>();
    let echo = tokio::spawn(async move {
        while let Some((v, back)) = rx.recv().await {
            let _ = back.send(v);
        }
    });
    let t0 = Instant::now();
    for i in 0..n {
        let (back_tx, back_rx) = oneshot::channel();
        tx.send((i, back_tx)).expect("ping");
        back_rx.await.expect("pong");
    }
    let d = t0.elapsed();
    drop(tx);
    echo.await.expect("echo task");
    d
}

fn skynet(c: mpsc::Sender<i64>, num: i64, size: i64, div: i64) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        if size == 1 {
            c.send(num).await.expect("skynet send");
            return;
        }
        let (rc_tx, mut rc_rx) = mpsc::channel::<i64>(1);
        let sub = size / div;
        for i in 0..div {
            tokio::spawn(skynet(rc_tx.clone(), num + i * sub, sub, div));
        }
        drop(rc_tx);
        let mut sum = 0;
        for _ in 0..div {
            sum += rc_rx.recv().await.expect("skynet recv");
        }
        c.send(sum).await.expect("skynet send");
    })
}

struct Instance {
    name: String,
    procs: usize,
}

fn instances() -> Vec<Instance> {
    let mut v = vec![Instance { name: "yield_switch/procs:1".into(), procs: 1 }];
    for p in [1, 2] {
        v.push(Instance { name: format!("spawn_join_1M/procs:{p}"), procs: p });
    }
    for p in [1, 2] {
        v.push(Instance { name: format!("chan_pingpong/procs:{p}"), procs: p });
    }
    for p in [1, 2] {
        v.push(Instance { name: format!("chan_pingpong_oneshot/procs:{p}"), procs: p });
    }
    // How cost grows: spawn+join at 10^3..10^7 tasks, skynet at 1..64 workers.
    for n in ["1k", "10k", "100k", "10M"] {
        v.push(Instance { name: format!("spawn_join_{n}/procs:2"), procs: 2 });
    }
    for p in [1, 2, 4, 8, 16, 64] {
        v.push(Instance { name: format!("skynet/procs:{p}"), procs: p });
    }
    v
}

/// The task count of a spawn_join_<n> workload name.
fn spawn_count(base: &str) -> Option<usize> {
    match base.strip_prefix("spawn_join_")? {
        "1k" => Some(1_000),
        "10k" => Some(10_000),
        "100k" => Some(100_000),
        "1M" => Some(1_000_000),
        "10M" => Some(10_000_000),
        _ => None,
    }
}

fn run(inst: &Instance) -> Result<(f64, &'static str), String> {
    let rt = runtime(inst.procs);
    let base = inst.name.split('/').next().unwrap_or("").to_string();
    rt.block_on(async {
        // Each workload runs as a task of the runtime, as Go's run in a goroutine.
        let work = async move {
            match base.as_str() {
                "yield_switch" => {
                    let n = 2_000_000;
                    yield_round(n / 10).await;
                    Ok((ns_per(yield_round(n).await, 2.0 * n as f64), "ns/op"))
                }
                b if spawn_count(b).is_some() => {
                    let n = spawn_count(b).unwrap();
                    spawn_join_round(n).await;
                    let mut rounds = Vec::new();
                    for _ in 0..5 {
                        rounds.push(ns_per(spawn_join_round(n).await, n as f64));
                    }
                    rounds.sort_by(|a, b| a.partial_cmp(b).unwrap());
                    Ok((rounds[2], "ns/op"))
                }
                "chan_pingpong" => {
                    let n = 500_000;
                    pingpong_round(n / 10).await;
                    Ok((ns_per(pingpong_round(n).await, n as f64), "ns/op"))
                }
                "chan_pingpong_oneshot" => {
                    let n = 500_000;
                    oneshot_pingpong_round(n / 10).await;
                    Ok((ns_per(oneshot_pingpong_round(n).await, n as f64), "ns/op"))
                }
                "skynet" => {
                    let (leaves, fanout) = (1_000_000i64, 10i64);
                    let want = leaves * (leaves - 1) / 2;
                    let (tx, mut rx) = mpsc::channel::<i64>(1);
                    let t0 = Instant::now();
                    tokio::spawn(skynet(tx, 0, leaves, fanout));
                    let sum = rx.recv().await.expect("skynet root");
                    let d = t0.elapsed();
                    if sum != want {
                        return Err(format!("skynet: wrong sum {sum}, want {want}"));
                    }
                    Ok((d.as_nanos() as f64 / 1e6, "ms"))
                }
                _ => Err(format!("no workload {base}")),
            }
        };
        tokio::spawn(work).await.map_err(|e| format!("workload task: {e}"))?
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let all = instances();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["-list"] => {
            for i in &all {
                println!("{}", i.name);
            }
        }
        ["-version"] => println!("tokio {} (multi-thread runtime)", env!("GORO_TOKIO_VERSION")),
        ["-bench", name] => {
            let Some(inst) = all.iter().find(|i| i.name == *name) else {
                eprintln!("goro-tokio-peer: no workload {name} (-list names them)");
                std::process::exit(2);
            };
            match run(inst) {
                Ok((v, unit)) => println!("RESULT {} {} {}", inst.name, v, unit),
                Err(e) => {
                    eprintln!("goro-tokio-peer: {e}");
                    std::process::exit(1);
                }
            }
        }
        _ => {
            eprintln!("usage: goro-tokio-peer -list | -version | -bench NAME");
            std::process::exit(2);
        }
    }
}
