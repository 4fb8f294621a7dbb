//! The server under test: either a running Courier (`--url`, optional `--server-pid`) or one
//! this process starts on a fresh database (`--spawn`) and stops at the end: a temporary SQLite
//! file, or with `--postgres` a fresh PostgreSQL database that is dropped afterwards. Also the
//! `/proc` readings (CPU time, resident memory) and the machine description.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::{Connection, Executor};

use crate::R;

/// Where the server is and how to observe it.
pub struct Target {
    /// `http://host:port`, no trailing slash.
    pub base: String,
    /// The address WebSocket clients connect to (resolved once).
    pub addr: SocketAddr,
    /// The `Host` part of URLs (`127.0.0.1:3000`).
    pub host: String,
    /// The server process, when known (spawned, or `--server-pid`): CPU and memory readings.
    pub pid: Option<u32>,
    pub spawned: Option<Spawned>,
    /// More nodes of the same cluster (`--ws-also`): WebSocket clients are spread over
    /// `addr`/`host` and these in runs of `ws_block` users (by registration order).
    pub other_nodes: Vec<(SocketAddr, String)>,
    /// How many consecutive users share a node (`--ws-block`; 1: neighbours never do).
    pub ws_block: usize,
    /// The server's `/metrics` (a spawned server's own port, or `--metrics-url`): per-stage
    /// timings of sends (see stages.rs).
    pub metrics: Option<String>,
}

impl Target {
    pub async fn from_url(url: &str, pid: Option<u32>) -> R<Target> {
        let base = url.trim_end_matches('/').to_string();
        let host = base
            .strip_prefix("http://")
            .ok_or_else(|| format!("--url must start with http:// (TLS is not supported): {url}"))?
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        let addr = tokio::net::lookup_host(host.as_str())
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .next()
            .ok_or_else(|| format!("{host} resolves to no address"))?;
        if let Some(p) = pid {
            if !Path::new(&format!("/proc/{p}/stat")).exists() {
                return Err(format!("--server-pid {p}: no such process"));
            }
        }
        Ok(Target {
            base,
            addr,
            host,
            pid,
            spawned: None,
            other_nodes: Vec::new(),
            ws_block: 1,
            metrics: None,
        })
    }

    /// Adds another node of the same cluster for WebSocket clients (`--ws-also`).
    pub async fn add_node(&mut self, url: &str) -> R<()> {
        let other = Target::from_url(url, None).await?;
        self.other_nodes.push((other.addr, other.host));
        Ok(())
    }

    /// The node (address and `Host`) that the WebSockets of the user registered `index`-th
    /// connect to: runs of `ws_block` users take the nodes in turn.
    pub fn ws_node(&self, index: usize) -> (SocketAddr, &str) {
        let n = self.other_nodes.len() + 1;
        match (index / self.ws_block.max(1)) % n {
            0 => (self.addr, self.host.as_str()),
            i => {
                let (a, h) = &self.other_nodes[i - 1];
                (*a, h.as_str())
            }
        }
    }

    /// A spawned server's data folder (where its SQLite database lives; on PostgreSQL, which keeps
    /// no files there, its temporary folder).
    pub fn data_dir(&self) -> Option<std::path::PathBuf> {
        self.spawned.as_ref().map(|s| {
            let data = s.dir.join("data");
            if data.is_dir() {
                data
            } else {
                s.dir.clone()
            }
        })
    }

    /// A scrape of the server's send-stage histograms, when its metrics endpoint is known.
    pub async fn stages(&self, http: &reqwest::Client) -> Option<crate::stages::Snapshot> {
        crate::stages::Snapshot::take(http, self.metrics.as_deref()?).await
    }

    /// For the report, against a cluster: how many of these (sender, recipient) registration
    /// indexes have their WebSockets on different nodes.
    pub fn crossing_note(&self, pairs: &[(usize, usize)]) -> Option<String> {
        if self.other_nodes.is_empty() {
            return None;
        }
        let crossing = pairs
            .iter()
            .filter(|(a, b)| self.ws_node(*a).0 != self.ws_node(*b).0)
            .count();
        Some(format!(
            "cluster: {} nodes, runs of {} users per node: {crossing} of {} sender → recipient pairs cross nodes",
            self.other_nodes.len() + 1,
            self.ws_block,
            pairs.len()
        ))
    }

    pub fn describe(&self) -> Value {
        match &self.spawned {
            Some(s) => json!({
                "mode": "spawn",
                "url": self.base,
                "pid": self.pid,
                "binary": s.binary.display().to_string(),
                "env": s.env.iter().map(|(k, v)| if k == "DATABASE_URL" {
                    format!("{k}={}", redact_url(v))
                } else {
                    format!("{k}={v}")
                }).collect::<Vec<_>>(),
            }),
            None => json!({
                "mode": "url",
                "url": self.base,
                "pid": self.pid,
                "ws_also": self.other_nodes.iter().map(|(_, h)| h.clone()).collect::<Vec<_>>(),
                "ws_block": self.ws_block,
            }),
        }
    }

    /// The database backend, for the results: `sqlite (synchronous=full)`, `postgres … (server
    /// settings as given: …)`, or unknown for `--url`.
    pub fn database(&self) -> String {
        match &self.spawned {
            Some(s) => s.database.clone(),
            None => "unknown (a running server given by --url)".into(),
        }
    }

    /// Stops a spawned server (SIGTERM, then SIGKILL after 10 s) and removes its data (the
    /// temporary folder and, with --postgres, its database) unless --keep-server-data.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.spawned.take() {
            s.shutdown().await;
        }
    }

    pub fn cpu(&self) -> Option<CpuTime> {
        self.pid.and_then(CpuTime::of)
    }

    pub fn rss_kib(&self) -> Option<u64> {
        self.pid.and_then(rss_kib)
    }

    pub fn ctx_switches(&self) -> Option<u64> {
        self.pid.and_then(ctx_switches)
    }

    /// Whether a spawned server is still running (always true for `--url`).
    pub fn alive(&mut self) -> bool {
        match self.spawned.as_mut() {
            Some(s) => matches!(s.child.try_wait(), Ok(None)),
            None => true,
        }
    }

    pub fn log_tail(&self) -> Option<String> {
        let s = self.spawned.as_ref()?;
        let text = std::fs::read_to_string(&s.log).ok()?;
        let lines: Vec<&str> = text.lines().collect();
        Some(lines[lines.len().saturating_sub(20)..].join("\n"))
    }
}

pub struct Spawned {
    child: tokio::process::Child,
    dir: PathBuf,
    log: PathBuf,
    binary: PathBuf,
    env: Vec<(String, String)>,
    keep: bool,
    /// The PostgreSQL database made for this server (--postgres); dropped after it stops.
    pg: Option<PgDatabase>,
    database: String,
}

impl Spawned {
    /// Makes `username` an operator the way a server's operator does: `courier admin
    /// grant-operator`, run beside the server against its database.
    pub async fn grant_operator(&self, username: &str) -> R<()> {
        let out = tokio::process::Command::new(&self.binary)
            .args(["admin", "grant-operator", username])
            .current_dir(&self.dir)
            .env_remove("COURIER_CONFIG")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| format!("cannot run {} admin: {e}", self.binary.display()))?;
        if !out.status.success() {
            return Err(format!(
                "courier admin grant-operator {username}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    }

    async fn shutdown(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe {
                libc::kill(pid as i32, libc::SIGTERM);
            }
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            eprintln!("courier-bench: the server did not stop within 10 s of SIGTERM; killing it");
            let _ = self.child.kill().await;
        }
        if let Some(pg) = self.pg.take() {
            pg.remove().await;
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if self.keep {
            eprintln!("courier-bench: server data kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

pub struct SpawnOptions {
    pub server_bin: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub keep_data: bool,
    /// `--postgres`: the admin URL through which each spawned server gets a fresh database.
    pub postgres: Option<String>,
}

/// Checks that `--postgres` is a PostgreSQL URL (the database is only reached at spawn time).
pub fn check_postgres_url(admin_url: &str) -> R<()> {
    let url = reqwest::Url::parse(admin_url).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "postgres" | "postgresql" => Ok(()),
        other => Err(format!(
            "expected postgres://user@host:port/database, got a {other}: URL"
        )),
    }
}

/// `url` with its password, if any, replaced by `***` (for results and messages).
fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// A database created on a PostgreSQL server for one spawned `courier`, dropped with
/// `DROP DATABASE … WITH (FORCE)` by [`PgDatabase::remove`] (or, as a fallback, on drop)
/// unless it is to be kept.
struct PgDatabase {
    admin_url: String,
    name: String,
    /// The server's DATABASE_URL: the admin URL with the database name replaced.
    url: String,
    /// The server's version and the durability settings in force.
    version: String,
    settings: String,
    keep: bool,
    done: bool,
}

impl PgDatabase {
    async fn create(admin_url: &str, keep: bool) -> R<PgDatabase> {
        let name = format!(
            "courier_bench_{}_{}",
            std::process::id(),
            crate::random_id(8)
        );
        let mut url = reqwest::Url::parse(admin_url).map_err(|e| format!("--postgres: {e}"))?;
        url.set_path(&format!("/{name}"));
        let work = async {
            let mut conn = sqlx::PgConnection::connect(admin_url)
                .await
                .map_err(|e| format!("cannot connect to {}: {e}", redact_url(admin_url)))?;
            let (version, fsync, sync_commit, shared_buffers) =
                sqlx::query_as::<_, (String, String, String, String)>(
                    "SELECT current_setting('server_version'), current_setting('fsync'), \
                     current_setting('synchronous_commit'), current_setting('shared_buffers')",
                )
                .fetch_one(&mut conn)
                .await
                .map_err(|e| format!("cannot read the PostgreSQL settings: {e}"))?;
            conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
                .await
                .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
            let _ = conn.close().await;
            // `15.8 (Debian 15.8-0+deb12u1)`: the number is enough.
            let version = version.split_whitespace().next().unwrap_or("").to_string();
            R::Ok((
                version,
                format!("fsync={fsync}, synchronous_commit={sync_commit}, shared_buffers={shared_buffers}"),
            ))
        };
        let (version, settings) = tokio::time::timeout(Duration::from_secs(30), work)
            .await
            .map_err(|_| format!("{} did not answer within 30 s", redact_url(admin_url)))??;
        Ok(PgDatabase {
            admin_url: admin_url.to_string(),
            name,
            url: url.to_string(),
            version,
            settings,
            keep,
            done: false,
        })
    }

    fn describe(&self) -> String {
        format!(
            "postgres {} (server settings as given: {})",
            self.version, self.settings
        )
    }

    /// Drops the database (after its server has stopped), or says where it was kept.
    async fn remove(mut self) {
        self.done = true;
        if self.keep {
            self.say_kept();
        } else if let Err(e) = drop_database(&self.admin_url, &self.name).await {
            eprintln!("courier-bench: {e}");
        }
    }

    fn say_kept(&self) {
        eprintln!(
            "courier-bench: PostgreSQL database kept: {} (DATABASE_URL={})",
            self.name,
            redact_url(&self.url)
        );
    }
}

impl Drop for PgDatabase {
    /// A fallback for paths that do not call `remove` (a failed start, an early return): drops the
    /// database on a short-lived thread with its own runtime, so that it works in any context.
    fn drop(&mut self) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        if self.keep {
            self.say_kept();
            return;
        }
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        let outcome = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot drop database {name}: no runtime: {e}"))?
                .block_on(drop_database(&admin, &name))
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("courier-bench: {e}"),
            Err(_) => eprintln!("courier-bench: dropping database {} panicked", self.name),
        }
    }
}

async fn drop_database(admin_url: &str, name: &str) -> R<()> {
    let work = async {
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", redact_url(admin_url)))?;
        conn.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
            .await
            .map_err(|e| format!("DROP DATABASE {name}: {e}"))?;
        let _ = conn.close().await;
        R::Ok(())
    };
    tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .map_err(|_| format!("cannot drop database {name}: no answer within 30 s"))?
}

/// What the spawned server's final environment says about its database.
fn describe_database(env: &[(String, String)], pg: Option<&PgDatabase>) -> String {
    if let Some(pg) = pg {
        return pg.describe();
    }
    let get = |key: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let url = get("DATABASE_URL").unwrap_or("");
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("sqlite") => format!(
            "sqlite (synchronous={})",
            get("COURIER_SQLITE_SYNCHRONOUS")
                .unwrap_or("full")
                .to_ascii_lowercase()
        ),
        Some("postgres" | "postgresql") => {
            "postgres (server settings as given; DATABASE_URL from --server-env)".into()
        }
        _ => format!("unknown (DATABASE_URL={})", redact_url(url)),
    }
}

/// The `courier` binary next to this executable, unless `--server-bin` says otherwise.
fn server_binary(explicit: Option<&Path>) -> R<PathBuf> {
    let bin = match explicit {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()
            .map_err(|e| format!("cannot locate the bench executable: {e}"))?
            .parent()
            .map(|d| d.join("courier"))
            .ok_or("the bench executable has no folder")?,
    };
    if !bin.is_file() {
        return Err(format!(
            "server binary {} not found: build it (`cargo build --release --bin courier`) or pass --server-bin PATH",
            bin.display()
        ));
    }
    std::fs::canonicalize(&bin).map_err(|e| format!("{}: {e}", bin.display()))
}

/// Starts `courier` on 127.0.0.1 with a free port, a fresh database (SQLite, or PostgreSQL with
/// `--postgres`) and a minimal client folder, waits for `GET /healthz`, and returns it as the
/// target.
/// A port nobody listens on now (the OS picks it).
fn free_port() -> R<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot find a free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

pub async fn spawn(opts: &SpawnOptions, http: &reqwest::Client) -> R<Target> {
    let binary = server_binary(opts.server_bin.as_deref())?;
    let mut last_err = String::new();
    // A free port is found by binding port 0; another process may take it before the server
    // does, so a failed start is retried with a new port.
    for _attempt in 0..3 {
        match spawn_once(&binary, opts, http).await {
            Ok(t) => return Ok(t),
            Err(e) => {
                eprintln!("courier-bench: server start failed: {e}");
                last_err = e;
            }
        }
    }
    Err(format!("could not start the server: {last_err}"))
}

async fn spawn_once(binary: &Path, opts: &SpawnOptions, http: &reqwest::Client) -> R<Target> {
    // `--server-env DATABASE_URL=…` overrides everything: then no database is made here.
    let pg = match &opts.postgres {
        Some(admin) if !opts.env.iter().any(|(k, _)| k == "DATABASE_URL") => {
            Some(PgDatabase::create(admin, opts.keep_data).await?)
        }
        _ => None,
    };
    let dir = std::env::temp_dir().join(format!(
        "courier-bench-{}-{}",
        std::process::id(),
        crate::random_id(8)
    ));
    let dist = dir.join("dist");
    std::fs::create_dir_all(&dist).map_err(|e| format!("cannot create {}: {e}", dist.display()))?;
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>Courier bench</title>",
    )
    .map_err(|e| format!("cannot write index.html: {e}"))?;
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let database_url = match &pg {
        Some(pg) => pg.url.clone(),
        None => format!("sqlite://{}", dir.join("data/courier.db").display()),
    };
    let mut env: Vec<(String, String)> = vec![
        ("COURIER_ADDR".into(), addr.to_string()),
        ("DATABASE_URL".into(), database_url),
        ("COURIER_DIST_DIR".into(), dist.display().to_string()),
        ("COURIER_SEND_RATE_PER_SEC".into(), "1000000000".into()),
        ("COURIER_SEND_BURST".into(), "1000000000".into()),
        ("COURIER_SCHEDULER_ENABLED".into(), "false".into()),
        // Every bench user registers from loopback, and `connections` opens many sockets per
        // user: lift the abuse limits.
        (
            "COURIER_REGISTRATIONS_PER_ADDR_PER_HOUR".into(),
            "1000000000".into(),
        ),
        (
            "COURIER_LOGIN_FREE_FAILURES_PER_ADDR".into(),
            "1000000000".into(),
        ),
        ("COURIER_HASHING_QUEUE".into(), "100000".into()),
        ("COURIER_WS_CONNECTIONS_PER_USER".into(), "1000000".into()),
        // One bench connection pipelines thousands of sends per second: the per-connection
        // frame budget (200/s for a person's client) would measure the limit, not the server.
        ("COURIER_FRAME_RATE_PER_SEC".into(), "1000000000".into()),
        ("COURIER_FRAME_BURST".into(), "1000000000".into()),
        // Its own metrics port, so that it never clashes with a server already running here,
        // and the bench knows where to read the per-stage timings.
        (
            "COURIER_METRICS_ADDR".into(),
            format!("127.0.0.1:{}", free_port()?),
        ),
        ("RUST_LOG".into(), "warn".into()),
    ];
    for (k, v) in &opts.env {
        env.retain(|(ek, _)| ek != k);
        env.push((k.clone(), v.clone()));
    }
    let log = dir.join("server.log");
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = tokio::process::Command::new(binary);
    cmd.current_dir(&dir)
        .env_remove("COURIER_CONFIG")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(log_err))
        .kill_on_drop(true);
    // SAFETY: prctl is async-signal-safe; it makes the kernel kill the server if the bench dies
    // (e.g. Ctrl-C), so no server is ever left behind.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let pid = child.id();
    let database = describe_database(&env, pg.as_ref());
    let metrics = env
        .iter()
        .rev()
        .find(|(k, _)| k == "COURIER_METRICS_ADDR")
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty() && !v.ends_with(":0"))
        .map(|v| format!("http://{v}/metrics"));
    let mut target = Target {
        base: format!("http://{addr}"),
        addr,
        host: addr.to_string(),
        pid,
        spawned: Some(Spawned {
            child,
            dir,
            log,
            binary: binary.to_path_buf(),
            env,
            keep: opts.keep_data,
            pg,
            database,
        }),
        other_nodes: Vec::new(),
        ws_block: 1,
        metrics,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if !target.alive() {
            let tail = target.log_tail().unwrap_or_default();
            target.shutdown().await;
            return Err(format!("the server exited during start-up:\n{tail}"));
        }
        let ok = http
            .get(format!("{}/healthz", target.base))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if ok {
            return Ok(target);
        }
        if Instant::now() > deadline {
            let tail = target.log_tail().unwrap_or_default();
            target.shutdown().await;
            return Err(format!(
                "GET /healthz did not answer 200 within 30 s:\n{tail}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// CPU time (user + system) of a process, from `/proc/<pid>/stat`.
#[derive(Clone, Copy, Debug)]
pub struct CpuTime {
    pub ticks: u64,
}

impl CpuTime {
    pub fn of(pid: u32) -> Option<CpuTime> {
        read_cpu(&format!("/proc/{pid}/stat"))
    }
    pub fn of_self() -> Option<CpuTime> {
        read_cpu("/proc/self/stat")
    }
    /// Seconds of CPU from `earlier` to `self`.
    pub fn secs_since(&self, earlier: &CpuTime) -> f64 {
        self.ticks.saturating_sub(earlier.ticks) as f64 / clock_ticks_per_sec()
    }
}

fn read_cpu(path: &str) -> Option<CpuTime> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may contain spaces; fields after it start at ") ".
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(CpuTime {
        ticks: utime + stime,
    })
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Resident set size in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Context switches (voluntary + involuntary) summed over a process's live threads.
pub fn ctx_switches(pid: u32) -> Option<u64> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for entry in dir.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        for line in text.lines() {
            if let Some(v) = line
                .strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                total += v.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    Some(total)
}

/// Samples a process's RSS every `every` until stopped; keeps the peak.
pub struct RssSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<u64>,
}

impl RssSampler {
    pub fn start(pid: u32, every: Duration) -> RssSampler {
        let peak = Arc::new(AtomicU64::new(rss_kib(pid).unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut samples = 0u64;
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            while !s.load(Ordering::Relaxed) {
                tick.tick().await;
                if let Some(r) = rss_kib(pid) {
                    p.fetch_max(r, Ordering::Relaxed);
                    samples += 1;
                }
            }
            samples
        });
        RssSampler { peak, stop, task }
    }

    /// (peak KiB, number of samples)
    pub async fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.task.await.unwrap_or(0);
        (self.peak.load(Ordering::Relaxed), samples)
    }
}

/// Raises this process's open-file limit as far as allowed (root may raise the hard limit).
/// A spawned server inherits it. Returns the new soft limit.
pub fn raise_nofile_limit(want: u64) -> u64 {
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur) != 0 {
            return 0;
        }
        if cur.rlim_cur >= want {
            return cur.rlim_cur;
        }
        let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(want);
        let target = want.min(nr_open);
        let raised = libc::rlimit {
            rlim_cur: target,
            rlim_max: target.max(cur.rlim_max),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            return target;
        }
        let soft = libc::rlimit {
            rlim_cur: cur.rlim_max.min(target),
            rlim_max: cur.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &soft) == 0 {
            return soft.rlim_cur;
        }
        cur.rlim_cur
    }
}

pub fn nofile_limit() -> u64 {
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit with a valid pointer.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur);
    }
    cur.rlim_cur
}

/// nproc, memory, CPU model, load, kernel: recorded with every result.
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().to_string()))
        })
        .unwrap_or_default();
    json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": model,
        "mem_total": mem_kib,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "loadavg": loadavg(),
    })
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
