//! `connections`: N idle authenticated WebSockets (spread over several 127.0.0.x source
//! addresses), held open with application `ping`s; reports the server's resident memory per
//! connection and whether every connection stayed up.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::protocol::{ClientFrame, ServerFrame};
use clap::Args;
use futures_util::SinkExt;
use rand::Rng;
use serde_json::json;
use tokio::sync::{watch, Semaphore};

use crate::client::{encode, open_session, recv, Api, BenchUser, RecvError};
use crate::report::{Checks, Report};
use crate::server::{nofile_limit, CpuTime, RssSampler, Target};
use crate::{log, R};

#[derive(Args, Debug, Clone)]
pub struct ConnectionsArgs {
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// How long to hold every connection open once all are up.
    #[arg(long, default_value_t = 60)]
    pub hold_seconds: u64,
    /// Each connection sends a `ping` this often (the server closes sockets silent for 60 s).
    #[arg(long, default_value_t = 20)]
    pub ping_interval_secs: u64,
    /// Connections per user (users are registered once; argon2 is slow).
    #[arg(long, default_value_t = 200)]
    pub conns_per_user: usize,
    /// Connections per local source address 127.0.0.x (each address has ~28k ephemeral ports).
    #[arg(long, default_value_t = 5000)]
    pub per_source_ip: usize,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
}

#[derive(Default)]
struct ConnResult {
    connected: bool,
    error: Option<String>,
    closed: Option<String>,
    pings: u64,
    pongs: u64,
}

pub async fn run(target: &Target, api: &Api, run_id: &str, a: &ConnectionsArgs) -> R<Report> {
    let n = a.connections.max(1);
    let per_user = a.conns_per_user.max(1);
    let nusers = n.div_ceil(per_user);
    let mut report = Report::new(
        "connections",
        json!({ "connections": n, "hold_seconds": a.hold_seconds, "ping_interval_secs": a.ping_interval_secs,
                "users": nusers, "conns_per_user": per_user, "per_source_ip": a.per_source_ip }),
    );
    let limit = nofile_limit();
    if (limit as usize) < n + 1000 {
        return Err(format!(
            "the open-file limit is {limit} and could not be raised (the hard limit needs root with CAP_SYS_RESOURCE); \
             {n} connections need at least {}: raise `ulimit -Hn`, or run fewer connections",
            n + 1000
        ));
    }
    log(&format!("connections: registering {nusers} users"));
    let users = Arc::new(api.register_many(&format!("bc{run_id}_"), nusers).await?);
    // The server's own count of open sockets needs an operator (a spawned server only).
    if let (Some(s), Some(u)) = (&target.spawned, users.first()) {
        s.grant_operator(&u.user.username).await?;
    }
    let loopback = target.addr.ip().is_loopback();
    if !loopback {
        report.note("target is not on loopback: connections use the default source address");
    }

    // Let the server settle after registration (argon2 buffers) before the baseline.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = target.rss_kib();
    let (stop_tx, stop_rx) = watch::channel(false);
    let ready = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(Semaphore::new(a.connect_concurrency.max(1)));
    let ping_every = Duration::from_secs(a.ping_interval_secs.max(1));
    log(&format!(
        "connections: opening {n} WebSockets ({} at a time, {} source addresses)",
        a.connect_concurrency,
        if loopback {
            n.div_ceil(a.per_source_ip.max(1))
        } else {
            1
        }
    ));
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for j in 0..n {
        let source = loopback.then(|| {
            let k = 2 + j / a.per_source_ip.max(1);
            IpAddr::V4(Ipv4Addr::new(127, 0, (k / 250) as u8, (k % 250) as u8 + 1))
        });
        let user = users[j / per_user].clone();
        let (gate, ready, failed, stop) =
            (gate.clone(), ready.clone(), failed.clone(), stop_rx.clone());
        let target_ref = TargetRef {
            addr: target.addr,
            host: target.host.clone(),
            base: target.base.clone(),
        };
        tasks.push(tokio::spawn(async move {
            hold_one(
                target_ref, user, source, gate, ready, failed, stop, ping_every,
            )
            .await
        }));
    }
    // Wait for every connection to be up (or failed), sampling RSS at 10% for the marginal cost.
    let connect_deadline = Instant::now() + Duration::from_secs(120 + n as u64 / 50);
    let mut tenth: Option<(u64, u64)> = None;
    let mut last_print = Instant::now();
    loop {
        let (r, f) = (
            ready.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed),
        );
        if tenth.is_none() && r as usize >= n / 10 && n >= 100 {
            if let Some(rss) = target.rss_kib() {
                tenth = Some((r, rss));
            }
        }
        if (r + f) as usize >= n {
            break;
        }
        if Instant::now() > connect_deadline {
            report.checks.fail(format!(
                "only {r} of {n} connections were up after {} s",
                connect_deadline.duration_since(t0).as_secs()
            ));
            break;
        }
        if last_print.elapsed() > Duration::from_secs(3) {
            log(&format!(
                "connections: {r}/{n} up, {f} failed ({:.0}/s)",
                r as f64 / t0.elapsed().as_secs_f64()
            ));
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connect_secs = t0.elapsed().as_secs_f64();
    let up = ready.load(Ordering::Relaxed);
    log(&format!(
        "connections: {up} up in {connect_secs:.1} s; holding for {} s",
        a.hold_seconds
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_connected = target.rss_kib();
    let sampler = target
        .pid
        .map(|pid| RssSampler::start(pid, Duration::from_millis(500)));
    let cpu0 = target.cpu();
    let bench0 = CpuTime::of_self();
    let hold_start = Instant::now();
    let hold_end = hold_start + Duration::from_secs(a.hold_seconds);
    while Instant::now() < hold_end {
        let left = hold_end.saturating_duration_since(Instant::now());
        tokio::time::sleep(left.min(Duration::from_secs(10))).await;
        if Instant::now() < hold_end {
            log(&format!(
                "connections: holding, {:.0} s left",
                hold_end
                    .saturating_duration_since(Instant::now())
                    .as_secs_f64()
            ));
        }
    }
    let hold_secs = hold_start.elapsed().as_secs_f64();
    let (cpu1, bench1) = (target.cpu(), CpuTime::of_self());
    let rss_end = target.rss_kib();
    let rss_peak = match sampler {
        Some(s) => Some(s.stop().await.0),
        None => None,
    };
    // The server's own count of open sockets, before we close ours.
    let server_open = match api.diagnostics(&users[0]).await {
        // Absent (not an operator) against a server this bench did not start.
        Ok(d) => d.open_connections,
        Err(e) => {
            report.checks.fail(format!("diagnostics: {e}"));
            None
        }
    };
    let _ = stop_tx.send(true);
    let mut checks = Checks::default();
    let (mut connected, mut closes, mut pings, mut pongs) = (0u64, 0u64, 0u64, 0u64);
    let mut sockets = Vec::new();
    for t in tasks {
        match t.await {
            Ok((ws, r)) => {
                connected += u64::from(r.connected);
                pings += r.pings;
                pongs += r.pongs;
                if let Some(e) = r.error {
                    checks.fail(format!("connect: {e}"));
                }
                if let Some(c) = r.closed {
                    closes += 1;
                    checks.fail(format!("closed during the hold: {c}"));
                }
                if let Some(ws) = ws {
                    sockets.push(ws);
                }
            }
            Err(e) => checks.fail(format!("connection task failed: {e}")),
        }
    }
    log(&format!("connections: closing {} sockets", sockets.len()));
    drop(sockets);
    if connected != n as u64 {
        checks.fail(format!(
            "{connected} of {n} connections completed welcome → caught_up"
        ));
    }
    if pongs < pings {
        checks.fail(format!(
            "{} of {pings} pings were not answered",
            pings - pongs
        ));
    }
    if let Some(open) = server_open {
        if open < n as i64 {
            checks.fail(format!(
                "the server counted {open} open connections, expected at least {n}"
            ));
        }
    }
    report.checks.merge(checks);
    report.checks.verified(format!(
        "{n} connections authenticated (welcome + caught_up), none closed during the {hold_secs:.0} s hold, \
         every ping answered by its pong, server diagnostics counted ≥ {n} open connections"
    ));
    report.metric("connections_up", connected as f64, "conns");
    report.metric("connect_seconds", connect_secs, "s");
    report.metric(
        "connect_rate",
        up as f64 / connect_secs.max(1e-9),
        "conns/s",
    );
    report.metric("hold_seconds", hold_secs, "s");
    report.metric("closed_during_hold", closes as f64, "conns");
    report.metric("pings_sent", pings as f64, "pings");
    report.metric("pongs_received", pongs as f64, "pongs");
    if let Some(o) = server_open {
        report.metric("server_open_connections", o as f64, "conns");
    }
    report.metric_opt(
        "server_rss_before",
        rss_before.map(|v| v as f64 / 1024.0),
        "MiB",
    );
    report.metric_opt(
        "server_rss_connected",
        rss_connected.map(|v| v as f64 / 1024.0),
        "MiB",
    );
    report.metric_opt(
        "server_rss_end_of_hold",
        rss_end.map(|v| v as f64 / 1024.0),
        "MiB",
    );
    if let Some(p) = rss_peak {
        report.metric("server_rss_peak_during_hold", p as f64 / 1024.0, "MiB");
    }
    if let (Some(b), Some(e)) = (rss_before, rss_end.max(rss_peak)) {
        report.metric(
            "server_rss_per_connection",
            e.saturating_sub(b) as f64 / n as f64,
            "KiB/conn",
        );
    }
    if let (Some((r10, rss10)), Some(e)) = (tenth, rss_connected) {
        if up > r10 {
            report.metric(
                "server_rss_marginal_per_connection",
                e.saturating_sub(rss10) as f64 / (up - r10) as f64,
                "KiB/conn",
            );
        }
    }
    if let (Some(c0), Some(c1)) = (cpu0, cpu1) {
        report.metric(
            "server_cpu_idle_hold",
            c1.secs_since(&c0) / hold_secs.max(1e-9),
            "cores",
        );
    }
    if let (Some(b0), Some(b1)) = (bench0, bench1) {
        report.metric(
            "bench_cpu_idle_hold",
            b1.secs_since(&b0) / hold_secs.max(1e-9),
            "cores",
        );
    }
    if let Some(rss) = crate::server::rss_kib(std::process::id()) {
        report.metric("bench_rss", rss as f64 / 1024.0, "MiB");
    }
    report.target(
        "≤ 16 KiB server memory per idle connection (50,000)",
        "server_rss_per_connection",
        16.0,
        false,
        n >= 50_000,
    );
    Ok(report)
}

struct TargetRef {
    addr: std::net::SocketAddr,
    host: String,
    base: String,
}

#[allow(clippy::too_many_arguments)]
async fn hold_one(
    t: TargetRef,
    user: BenchUser,
    source: Option<IpAddr>,
    gate: Arc<Semaphore>,
    ready: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
    ping_every: Duration,
) -> (Option<crate::client::Ws>, ConnResult) {
    let mut r = ConnResult::default();
    let target = Target {
        base: t.base,
        addr: t.addr,
        host: t.host,
        pid: None,
        spawned: None,
        other_nodes: Vec::new(),
        ws_block: 1,
        metrics: None,
    };
    let opened = {
        let _permit = gate.acquire().await;
        open_session(&target, &user, source, true).await
    };
    let mut ws = match opened {
        Ok((ws, _)) => ws,
        Err(e) => {
            failed.fetch_add(1, Ordering::Relaxed);
            r.error = Some(e);
            return (None, r);
        }
    };
    r.connected = true;
    ready.fetch_add(1, Ordering::Relaxed);
    let first =
        tokio::time::Instant::now() + ping_every.mul_f64(rand::thread_rng().gen_range(0.05..1.0));
    let mut ping = tokio::time::interval_at(first, ping_every);
    let mut nonce = 0u64;
    let mut stopping: Option<tokio::time::Instant> = None;
    loop {
        if stopping.is_some() && r.pongs >= r.pings {
            break;
        }
        // After the stop signal, wait at most 5 s for the last pongs.
        let deadline =
            stopping.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = ping.tick(), if stopping.is_none() => {
                nonce += 1;
                if let Err(e) = ws.send(encode(&ClientFrame::Ping { nonce })).await {
                    r.closed = Some(format!("ping failed: {e}"));
                    break;
                }
                r.pings += 1;
            }
            changed = stop.changed(), if stopping.is_none() => {
                let _ = changed;
                stopping = Some(tokio::time::Instant::now() + Duration::from_secs(5));
            }
            f = recv(&mut ws, deadline) => match f {
                Ok(ServerFrame::Pong { .. }) => r.pongs += 1,
                Ok(_) => {}
                Err(RecvError::Timeout) => break,
                Err(e) => {
                    r.closed = Some(e.to_string());
                    break;
                }
            }
        }
    }
    (Some(ws), r)
}
