//! `courier-bench`: Courier's load generator. Real WebSocket and HTTP clients over loopback
//! drive a running server (`--url`) or one started here on a fresh database (the default, or
//! `--spawn`), and every message that is counted is verified: nothing lost, nothing duplicated,
//! per-conversation seq order. A failed verification exits non-zero and its numbers do not count.
//!
//! Scenarios: `throughput`, `latency`, `sequential`, `drain`, `history`, `search`, `connections`, `disk`, and `smoke` (all of
//! them with tiny sizes, for `make test`). See docs/BENCHMARKS.md.
//!
//! A spawned server uses a temporary SQLite file by default; with `--postgres ADMIN_URL` it gets a
//! fresh PostgreSQL database instead, created through that URL and dropped afterwards.

mod client;
mod connections;
mod disk;
mod drain;
mod history;
mod latency;
mod pipeline;
mod report;
mod search;
mod sequential;
mod server;
mod stages;
mod throughput;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use futures_util::StreamExt;
use serde_json::json;

use crate::client::{Api, Ws};
use crate::report::Report;
use crate::server::{SpawnOptions, Target};

/// Errors are one readable line (or a few); scenarios never panic on a bad server.
pub type R<T> = Result<T, String>;

#[derive(Parser, Debug)]
#[command(
    name = "courier-bench",
    version,
    about = "Load generator for Courier: verified throughput, latency, drain, history and connection benchmarks"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Debug)]
struct Common {
    /// Benchmark a running server (http://host:port) instead of starting one.
    #[arg(long, global = true, conflicts_with = "spawn")]
    url: Option<String>,
    /// With --url: another node of the same cluster (repeatable). WebSocket clients are spread
    /// over --url and these, taking turns in registration order (HTTP still goes to --url), so in
    /// the latency ring (user i writes to user i+1) every message crosses nodes.
    #[arg(long = "ws-also", global = true, value_name = "URL", requires = "url")]
    ws_also: Vec<String>,
    /// With --ws-also: runs of this many consecutive users share a node. 1 (the default) puts
    /// neighbours on different nodes; users/nodes keeps almost every latency-ring message within a
    /// node (the same cluster and load, without the crossing).
    #[arg(
        long = "ws-block",
        global = true,
        default_value_t = 1,
        requires = "ws_also"
    )]
    ws_block: usize,
    /// With --url: the server's metrics endpoint (http://host:port/metrics), for the per-stage
    /// timings of sends. A spawned server's is known without it.
    #[arg(
        long = "metrics-url",
        global = true,
        value_name = "URL",
        requires = "url"
    )]
    metrics_url: Option<String>,
    /// Start a server on 127.0.0.1 with a fresh temporary database (the default without --url).
    ///
    /// The database is a temporary SQLite file (synchronous=full unless --server-env
    /// COURIER_SQLITE_SYNCHRONOUS=… says otherwise), or a fresh PostgreSQL database with --postgres.
    #[arg(long, global = true)]
    spawn: bool,
    /// Give each spawned server a fresh PostgreSQL database, made through this admin URL, instead
    /// of SQLite.
    ///
    /// Connects to ADMIN_URL (postgres://user@host:port/db, as a role that may create databases),
    /// creates `courier_bench_<pid>_<random>`, sets the server's DATABASE_URL to ADMIN_URL with
    /// that database name, and drops the database (WITH (FORCE)) when the server stops, unless
    /// --keep-server-data. The PostgreSQL server's settings (fsync, synchronous_commit, …) are
    /// used as they are and recorded in the results. `--server-env DATABASE_URL=…` still wins.
    /// Cannot be combined with --url.
    #[arg(
        long,
        global = true,
        env = "COURIER_BENCH_POSTGRES",
        hide_env_values = true,
        value_name = "ADMIN_URL"
    )]
    postgres: Option<String>,
    /// The `courier` binary to start (default: the one next to this executable).
    #[arg(long, global = true, value_name = "PATH")]
    server_bin: Option<PathBuf>,
    /// With --url: the server's process id, for CPU and memory readings from /proc.
    #[arg(long, global = true, value_name = "PID")]
    server_pid: Option<u32>,
    /// Extra environment for a spawned server, e.g. COURIER_SQLITE_SYNCHRONOUS=normal (repeatable).
    #[arg(long = "server-env", global = true, value_name = "KEY=VALUE")]
    server_env: Vec<String>,
    /// Where to write the JSON results (default: <results-dir>/<scenario>-<timestamp>.json).
    #[arg(long, global = true, value_name = "PATH")]
    json: Option<PathBuf>,
    #[arg(
        long,
        global = true,
        default_value = "bench-results",
        value_name = "DIR"
    )]
    results_dir: PathBuf,
    /// The whole run stops (and fails) after this long.
    #[arg(long, global = true, default_value_t = 3600)]
    timeout_secs: u64,
    /// Keep a spawned server's temporary database folder (and its PostgreSQL database, with
    /// --postgres).
    #[arg(long, global = true)]
    keep_server_data: bool,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// P sender→recipient pairs, pipelined sends, every message acknowledged: messages/s and server CPU per message.
    Throughput(throughput::ThroughputArgs),
    /// Many connected users at a fixed total rate: send→receive latency percentiles.
    Latency(latency::LatencyArgs),
    /// One sender, one send in flight, one online recipient: acknowledged sends/s back to back, or
    /// send→receive percentiles (to p99.9 and max) at a fixed low rate with --rate.
    Sequential(sequential::SequentialArgs),
    /// An offline user with a backlog connects: time to caught_up, rate, server peak RSS.
    Drain(drain::DrainArgs),
    /// A conversation with many stored messages: page latency of newest and random older pages.
    History(history::HistoryArgs),
    /// One group of long CJK texts: the worst substring searches, and others' sends and history
    /// pages while one user floods search on many connections.
    Search(search::SearchArgs),
    /// Many idle authenticated WebSockets with heartbeats: server memory per connection.
    Connections(connections::ConnectionsArgs),
    /// The disk under the database: one small append + fdatasync, timed (the floor for a durable commit).
    Disk(disk::DiskArgs),
    /// Every scenario with tiny sizes against a spawned server, verified (runs in `make test`).
    Smoke,
}

impl Cmd {
    fn name(&self) -> &'static str {
        match self {
            Cmd::Throughput(_) => "throughput",
            Cmd::Latency(_) => "latency",
            Cmd::Sequential(_) => "sequential",
            Cmd::Drain(_) => "drain",
            Cmd::History(_) => "history",
            Cmd::Search(_) => "search",
            Cmd::Connections(_) => "connections",
            Cmd::Disk(_) => "disk",
            Cmd::Smoke => "smoke",
        }
    }
}

static START: OnceLock<Instant> = OnceLock::new();

/// Progress lines go to stderr with the time since start; results go to stdout.
pub fn log(msg: &str) {
    let t = START.get_or_init(Instant::now).elapsed().as_secs_f64();
    eprintln!("[{t:7.1}s] {msg}");
}

pub fn random_id(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Prints `label done/total (rate/s, ETA)` every 2 s while a long phase runs.
pub struct Progress {
    stop: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    pub fn start(label: &str, counter: Arc<AtomicU64>, total: u64) -> Progress {
        let stop = Arc::new(tokio::sync::Notify::new());
        let s = stop.clone();
        let label = label.to_string();
        let task = tokio::spawn(async move {
            let t0 = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        let done = counter.load(Ordering::Relaxed);
                        let rate = done as f64 / t0.elapsed().as_secs_f64().max(1e-9);
                        let eta = if rate > 0.0 { total.saturating_sub(done) as f64 / rate } else { f64::INFINITY };
                        log(&format!("{label} {done}/{total} ({rate:.0}/s, about {eta:.0} s left)"));
                    }
                    _ = s.notified() => break,
                }
            }
        });
        Progress { stop, task }
    }

    pub async fn stop(self) {
        self.stop.notify_one();
        let _ = self.task.await;
    }
}

/// Closes sockets politely (close handshake), many at a time, giving up after 10 s.
pub async fn close_all(sockets: Vec<Ws>) {
    let closing = futures_util::stream::iter(sockets.into_iter().map(|mut ws| async move {
        let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    }))
    .buffer_unordered(256)
    .collect::<Vec<()>>();
    let _ = tokio::time::timeout(Duration::from_secs(10), closing).await;
}

fn main() -> ExitCode {
    START.get_or_init(Instant::now);
    let cli = Cli::parse();
    // Before anything starts: a spawned server inherits the raised limit.
    server::raise_nofile_limit(1 << 20);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("courier-bench: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    rt.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let c = &cli.common;
    let scenario = cli.cmd.name();
    let mut env = Vec::new();
    for kv in &c.server_env {
        match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => env.push((k.to_string(), v.to_string())),
            _ => {
                eprintln!("courier-bench: --server-env expects KEY=VALUE, got {kv:?}");
                return ExitCode::from(2);
            }
        }
    }
    if c.url.is_some() && (c.server_bin.is_some() || !env.is_empty()) {
        eprintln!(
            "courier-bench: --server-bin and --server-env apply to a spawned server, not to --url"
        );
        return ExitCode::from(2);
    }
    let postgres = c.postgres.as_deref().filter(|u| !u.trim().is_empty());
    if c.url.is_some() && postgres.is_some() {
        eprintln!(
            "courier-bench: --postgres (or COURIER_BENCH_POSTGRES) gives a spawned server its database; \
             it cannot apply to a running server given by --url"
        );
        return ExitCode::from(2);
    }
    if let Some(admin) = postgres {
        if let Err(e) = server::check_postgres_url(admin) {
            eprintln!("courier-bench: --postgres: {e}");
            return ExitCode::from(2);
        }
    }
    if matches!(cli.cmd, Cmd::Smoke) && c.url.is_some() {
        log("smoke against --url: the server keeps the bench users afterwards");
    }
    let probe = Api::new("http://127.0.0.1");
    let target = match &c.url {
        Some(url) => match Target::from_url(url, c.server_pid).await {
            Ok(mut t) => {
                let mut added = Ok(());
                for other in &c.ws_also {
                    added = added.and(t.add_node(other).await);
                }
                t.ws_block = c.ws_block.max(1);
                t.metrics = c.metrics_url.clone();
                added.map(|()| t)
            }
            Err(e) => Err(e),
        },
        None => {
            log("starting a server on a fresh database");
            server::spawn(
                &SpawnOptions {
                    server_bin: c.server_bin.clone(),
                    env,
                    keep_data: c.keep_server_data,
                    postgres: postgres.map(str::to_string),
                },
                &probe.http,
            )
            .await
        }
    };
    let mut target = match target {
        Ok(t) => t,
        Err(e) => {
            eprintln!("courier-bench: {e}");
            return ExitCode::from(2);
        }
    };
    if c.url.is_some() {
        match probe
            .http
            .get(format!("{}/healthz", target.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                eprintln!(
                    "courier-bench: GET {}/healthz answered {}",
                    target.base,
                    r.status()
                );
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("courier-bench: cannot reach {}: {e}", target.base);
                return ExitCode::from(2);
            }
        }
    }
    log(&format!(
        "target {} (pid {}), open-file limit {}, load {}",
        target.base,
        target
            .pid
            .map(|p| p.to_string())
            .unwrap_or_else(|| "unknown".into()),
        server::nofile_limit(),
        server::loadavg()
    ));
    let database = target.database();
    log(&format!("database: {database}"));
    let api = Api::new(&target.base);
    let run_id = random_id(6);
    let started = Instant::now();
    let reports = match tokio::time::timeout(
        Duration::from_secs(c.timeout_secs),
        scenarios(&cli.cmd, &target, &api, &run_id),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => {
            let mut r = Report::new(scenario, json!({}));
            r.checks.fail(format!(
                "the run did not finish within --timeout-secs {}",
                c.timeout_secs
            ));
            vec![r]
        }
    };
    let alive = target.alive();
    let server_desc = target.describe();
    let log_tail = target.log_tail();
    let all_ok = reports.iter().all(|r| r.verified()) && alive;
    if !alive {
        eprintln!("courier-bench: the server exited during the run");
    }
    if !all_ok {
        if let Some(tail) = log_tail.filter(|t| !t.trim().is_empty()) {
            eprintln!("--- last lines of the server log ---\n{tail}");
        }
    }
    println!("\ndatabase: {database}");
    for r in &reports {
        r.print();
    }
    let doc = json!({
        "tool": "courier-bench",
        "version": env!("CARGO_PKG_VERSION"),
        "scenario": scenario,
        "created_at": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "seconds": started.elapsed().as_secs_f64(),
        "verified": all_ok,
        "server": server_desc,
        "database": database,
        "server_survived": alive,
        "machine": server::machine(),
        "results": reports.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
    });
    let path = c.json.clone().unwrap_or_else(|| {
        c.results_dir.join(format!(
            "{scenario}-{}.json",
            chrono::Utc::now().format("%Y%m%d-%H%M%S")
        ))
    });
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    match serde_json::to_string_pretty(&doc)
        .map_err(|e| e.to_string())
        .and_then(|s| std::fs::write(&path, s + "\n").map_err(|e| e.to_string()))
    {
        Ok(()) => println!("\nresults written to {}", path.display()),
        Err(e) => eprintln!("courier-bench: cannot write {}: {e}", path.display()),
    }
    target.shutdown().await;
    if all_ok {
        println!("{scenario}: verified");
        ExitCode::SUCCESS
    } else {
        println!("{scenario}: VERIFICATION FAILED (see above); the numbers of failed scenarios do not count");
        ExitCode::from(1)
    }
}

/// Runs the chosen scenario (or, for smoke, all of them with tiny sizes) and finishes each report.
async fn scenarios(cmd: &Cmd, target: &Target, api: &Api, run_id: &str) -> Vec<Report> {
    let mut out = Vec::new();
    match cmd {
        Cmd::Throughput(a) => out.push(finish(
            "throughput",
            throughput::run(target, api, run_id, a).await,
        )),
        Cmd::Latency(a) => out.push(finish(
            "latency",
            latency::run(target, api, run_id, a).await,
        )),
        Cmd::Sequential(a) => out.push(finish(
            "sequential",
            sequential::run(target, api, run_id, a).await,
        )),
        Cmd::Drain(a) => out.push(finish("drain", drain::run(target, api, run_id, a).await)),
        Cmd::History(a) => out.push(finish(
            "history",
            history::run(target, api, run_id, a).await,
        )),
        Cmd::Search(a) => out.push(finish("search", search::run(target, api, run_id, a).await)),
        Cmd::Connections(a) => out.push(finish(
            "connections",
            connections::run(target, api, run_id, a).await,
        )),
        Cmd::Disk(a) => out.push(finish("disk", disk::run(target, a).await)),
        Cmd::Smoke => {
            let t = throughput::ThroughputArgs {
                pairs: 4,
                messages_per_pair: 200,
                window: 16,
                content_bytes: 64,
            };
            out.push(finish(
                "throughput",
                throughput::run(target, api, run_id, &t).await,
            ));
            let l = latency::LatencyArgs {
                users: 20,
                rate: 200.0,
                seconds: 2,
                content_bytes: 64,
            };
            out.push(finish(
                "latency",
                latency::run(target, api, run_id, &l).await,
            ));
            for rate in [None, Some(200.0)] {
                let q = sequential::SequentialArgs {
                    messages: 200,
                    rate,
                    seconds: 1,
                    content_bytes: 64,
                };
                out.push(finish(
                    "sequential",
                    sequential::run(target, api, run_id, &q).await,
                ));
            }
            let d = drain::DrainArgs {
                messages: 500,
                senders: 4,
                window: 32,
                content_bytes: 64,
            };
            out.push(finish("drain", drain::run(target, api, run_id, &d).await));
            let h = history::HistoryArgs {
                messages: 2000,
                pages: 20,
                page_size: 50,
                fill_connections: 4,
                window: 32,
                content_bytes: 64,
            };
            out.push(finish(
                "history",
                history::run(target, api, run_id, &h).await,
            ));
            let s = search::SearchArgs {
                messages: 200,
                chars: 400,
                runs: 3,
                seconds: 1,
                flood_connections: 4,
            };
            out.push(finish("search", search::run(target, api, run_id, &s).await));
            let k = disk::DiskArgs {
                count: 50,
                pause_ms: 0,
                bytes: 4096,
                dir: None,
            };
            out.push(finish("disk", disk::run(target, &k).await));
            let c = connections::ConnectionsArgs {
                connections: 200,
                hold_seconds: 3,
                ping_interval_secs: 1,
                conns_per_user: 50,
                per_source_ip: 100,
                connect_concurrency: 32,
            };
            out.push(finish(
                "connections",
                connections::run(target, api, run_id, &c).await,
            ));
        }
    }
    out
}

/// Stamps duration and load on a report; a scenario that could not run becomes a failed report.
fn finish(name: &str, r: R<Report>) -> Report {
    let mut report = match r {
        Ok(r) => r,
        Err(e) => {
            let mut r = Report::new(name, json!({}));
            r.checks.fail(format!("the scenario could not run: {e}"));
            r
        }
    };
    report.seconds = report.started.elapsed().as_secs_f64();
    report.load_after = server::loadavg();
    log(&format!(
        "{name}: {}",
        if report.verified() {
            "verified"
        } else {
            "FAILED"
        }
    ));
    report
}
