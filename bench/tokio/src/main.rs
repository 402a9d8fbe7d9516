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

/// tcp_echo_<N>: bench/go/echo.go's server on Tokio (a task per
/// connection), against the same load client process (GORO_ECHO_CLIENT,
/// pinned to the last CPU with taskset): ns per request over all connections,
/// and the round trip's median and 99th percentile.
async fn tcp_echo(conns: usize) -> Result<(f64, f64, f64), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ln = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let port = ln.local_addr().map_err(|e| e.to_string())?.port();
    let server = tokio::spawn(async move {
        while let Ok((mut c, _)) = ln.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                loop {
                    match c.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if c.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    let client = std::env::var("GORO_ECHO_CLIENT")
        .map_err(|_| "GORO_ECHO_CLIENT is not set (bench/compare.py sets it)".to_string())?;
    let out = tokio::task::spawn_blocking(move || {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let addr = format!("127.0.0.1:{port}");
        let n = conns.to_string();
        let mut cmd = if cpus > 1 {
            let mut c = std::process::Command::new("taskset");
            c.arg("-c").arg((cpus - 1).to_string()).arg(&client);
            c
        } else {
            std::process::Command::new(&client)
        };
        cmd.args(["-echo-client", &addr, "-conns", &n]).stderr(std::process::Stdio::inherit()).output()
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("echo client: {e}"))?;
    server.abort();
    if !out.status.success() {
        return Err(format!("echo client failed: {}", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("ECHO ")).ok_or(format!("no ECHO line: {text}"))?;
    let field = |k: &str| -> Result<f64, String> {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
            .and_then(|v| v.parse().ok())
            .ok_or(format!("no {k} in {line}"))
    };
    Ok((field("ns_per_req")?, field("p50_ns")?, field("p99_ns")?))
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
    for n in ["10", "100", "1k", "10k"] {
        v.push(Instance { name: format!("tcp_echo_{n}/procs:2"), procs: 2 });
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

fn run(inst: &Instance) -> Result<Vec<(String, f64, &'static str)>, String> {
    let base = inst.name.split('/').next().unwrap_or("");
    if let Some(n) = base.strip_prefix("tcp_echo_") {
        let conns = match n {
            "10" => 10,
            "100" => 100,
            "1k" => 1_000,
            "10k" => 10_000,
            _ => return Err(format!("no workload {base}")),
        };
        // The IO driver is on for this workload only: the others measure the
        // scheduler without it, as a runtime for pure computation would run.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(inst.procs)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let (per, p50, p99) = rt.block_on(tcp_echo(conns))?;
        let suffix = format!("/procs:{}", inst.procs);
        return Ok(vec![
            (inst.name.clone(), per, "ns/op"),
            (format!("{base}_p50{suffix}"), p50, "ns/op"),
            (format!("{base}_p99{suffix}"), p99, "ns/op"),
        ]);
    }
    run_one(inst).map(|(v, unit)| vec![(inst.name.clone(), v, unit)])
}

fn run_one(inst: &Instance) -> Result<(f64, &'static str), String> {
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
                Ok(rows) => {
                    for (name, v, unit) in rows {
                        println!("RESULT {name} {v} {unit}");
                    }
                }
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
