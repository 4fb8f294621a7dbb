//! `disk`: the floor under every durable send — how long one small append plus `fdatasync` takes
//! on the filesystem that holds the database (a spawned server's data folder, or `--dir`). A
//! commit under `synchronous=full` cannot be faster than this, nor have a shorter tail.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use crate::report::{hist_ms, new_hist, Report};
use crate::server::Target;
use crate::{log, R};

#[derive(Args, Debug, Clone)]
pub struct DiskArgs {
    /// How many appends, each followed by fdatasync.
    #[arg(long, default_value_t = 3000)]
    pub count: usize,
    /// Pause between them (an idle disk, as at a low send rate).
    #[arg(long, default_value_t = 5)]
    pub pause_ms: u64,
    /// Bytes per append (a WAL frame is a 4 KiB page plus its header).
    #[arg(long, default_value_t = 4096)]
    pub bytes: usize,
    /// Folder to probe (default: the spawned server's data folder, else the current one).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

pub async fn run(target: &Target, a: &DiskArgs) -> R<Report> {
    let dir = a
        .dir
        .clone()
        .or_else(|| target.data_dir())
        .unwrap_or_else(|| PathBuf::from("."));
    let mut report = Report::new(
        "disk",
        json!({ "count": a.count, "pause_ms": a.pause_ms, "bytes": a.bytes, "dir": dir.display().to_string() }),
    );
    log(&format!(
        "disk: {} appends of {} bytes + fdatasync in {}",
        a.count,
        a.bytes,
        dir.display()
    ));
    let (count, pause, bytes) = (
        a.count.max(1),
        Duration::from_millis(a.pause_ms),
        a.bytes.max(1),
    );
    let path = dir.join(format!("courier-bench-disk-{}.probe", std::process::id()));
    let probe = path.clone();
    let hist = tokio::task::spawn_blocking(move || -> R<_> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&probe)
            .map_err(|e| format!("cannot create {}: {e}", probe.display()))?;
        let buf = vec![0x5a_u8; bytes];
        let mut h = new_hist();
        for _ in 0..count {
            let t = Instant::now();
            f.write_all(&buf).map_err(|e| format!("write: {e}"))?;
            f.sync_data().map_err(|e| format!("fdatasync: {e}"))?;
            let _ = h.record(t.elapsed().as_micros().max(1) as u64);
            std::thread::sleep(pause);
        }
        Ok(h)
    })
    .await
    .map_err(|e| format!("the probe failed: {e}"));
    let _ = std::fs::remove_file(&path);
    let h = hist??;
    report.checks.verified(format!(
        "{count} appends, each followed by fdatasync, timed"
    ));
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99_9", 0.999)] {
        report.metric(&format!("fdatasync_{name}"), hist_ms(&h, q), "ms");
    }
    report.metric("fdatasync_max", h.max() as f64 / 1000.0, "ms");
    Ok(report)
}
