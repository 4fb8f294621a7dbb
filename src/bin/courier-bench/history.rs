//! `history`: one conversation with M stored messages (filled through the server by several
//! pipelined WebSockets of the sender), then the newest page and random older pages of 50 via
//! `GET /api/conversations/{id}/messages?before=<seq>&limit=50`, timed per page.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::{ConversationId, HistoryPage, Seq};
use clap::Args;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::client::{content, open_session, Api, BenchUser};
use crate::pipeline::{send_pipelined, SendJob};
use crate::report::{hist_ms, new_hist, Checks, Report};
use crate::server::Target;
use crate::{close_all, log, Progress, R};

#[derive(Args, Debug, Clone)]
pub struct HistoryArgs {
    /// Messages stored in the conversation before sampling pages.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: usize,
    /// Page requests to time (every 10th is the newest page, the rest random older pages).
    #[arg(long, default_value_t = 1000)]
    pub pages: usize,
    #[arg(long, default_value_t = 50)]
    pub page_size: usize,
    /// WebSockets of the sender used to fill the conversation (each also receives the others'
    /// messages as echoes, as the sender's other tabs would).
    #[arg(long, default_value_t = 24)]
    pub fill_connections: usize,
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    #[arg(long, default_value_t = 64)]
    pub content_bytes: usize,
}

pub async fn run(target: &Target, api: &Api, run_id: &str, a: &HistoryArgs) -> R<Report> {
    let m = a.messages.max(1);
    let limit = a.page_size.clamp(1, 200);
    let f = a.fill_connections.clamp(1, m);
    let mut report = Report::new(
        "history",
        json!({ "messages": m, "pages": a.pages, "page_size": limit, "fill_connections": f, "window": a.window, "content_bytes": a.content_bytes }),
    );
    let users = api.register_many(&format!("bh{run_id}_"), 2).await?;
    let (writer, reader) = (&users[0], &users[1]);
    let conv = api.direct(writer, reader.id()).await?.id;

    log(&format!(
        "history: filling conversation {conv} with {m} messages over {f} WebSockets (window {})",
        a.window
    ));
    let mut sockets = Vec::new();
    for _ in 0..f {
        sockets.push(open_session(target, writer, None, false).await?.0);
    }
    let progress = Arc::new(AtomicU64::new(0));
    let ticker = Progress::start("history: fill", progress.clone(), m as u64);
    let fill_start = Instant::now();
    let mut tasks = Vec::new();
    for (i, mut ws) in sockets.into_iter().enumerate() {
        let count = m / f + usize::from(i < m % f);
        let job = SendJob {
            conversation: conv,
            prefix: format!("h{i}"),
            count,
            window: a.window,
            content_bytes: a.content_bytes,
        };
        let (sender, progress) = (writer.id(), progress.clone());
        tasks.push(tokio::spawn(async move {
            let r = send_pipelined(&mut ws, sender, &job, &progress, Duration::from_secs(60)).await;
            (ws, job, r)
        }));
    }
    let mut checks = Checks::default();
    // owner[seq] = (connection, n) + 1, packed; 0 = no message acknowledged with that seq.
    let mut owner: Vec<u64> = vec![0; m + 1];
    let mut sockets = Vec::new();
    let mut acknowledged = 0;
    for t in tasks {
        let (ws, job, r) = t.await.map_err(|e| format!("fill task failed: {e}"))?;
        let conn: u64 = job.prefix[1..].parse().unwrap_or(0);
        for (n, seq) in r.seqs.iter().enumerate() {
            if *seq == 0 {
                continue;
            }
            match owner.get_mut(*seq as usize) {
                Some(slot) if *slot == 0 => *slot = ((conn << 32) | n as u64) + 1,
                Some(_) => checks.fail(format!("seq {seq} acknowledged for two messages")),
                None => checks.fail(format!("seq {seq} is beyond the {m} messages sent")),
            }
        }
        acknowledged += r.acknowledged;
        checks.merge(r.checks);
        sockets.push(ws);
    }
    let fill_secs = fill_start.elapsed().as_secs_f64();
    ticker.stop().await;
    close_all(sockets).await;
    if acknowledged != m {
        checks.fail(format!("{acknowledged} of {m} sends acknowledged"));
    }
    if let Some(missing) = owner.iter().skip(1).position(|o| *o == 0) {
        checks.fail(format!(
            "seq {} was never acknowledged (seqs must be 1..{m} without gaps)",
            missing + 1
        ));
    }
    log(&format!(
        "history: filled in {fill_secs:.1} s ({:.0} msgs/s); timing {} page requests",
        m as f64 / fill_secs.max(1e-9),
        a.pages
    ));

    // Pages, one request at a time.
    let mut all = new_hist();
    let mut newest = new_hist();
    let mut older = new_hist();
    let mut rng = rand::rngs::StdRng::from_entropy();
    let bytes = a.content_bytes;
    for i in 0..a.pages.max(1) {
        let before: Option<Seq> = if i % 10 == 0 || m < 2 {
            None
        } else {
            let lo = if m > limit { limit as Seq + 1 } else { 2 };
            Some(rng.gen_range(lo..=m as Seq))
        };
        let path = match before {
            Some(b) => format!("/api/conversations/{conv}/messages?before={b}&limit={limit}"),
            None => format!("/api/conversations/{conv}/messages?limit={limit}"),
        };
        let (us, page) = match timed_get(api, writer, &path).await {
            Ok(x) => x,
            Err(e) => {
                checks.fail(e);
                continue;
            }
        };
        all.saturating_record(us);
        if before.is_some() {
            older.saturating_record(us)
        } else {
            newest.saturating_record(us)
        }
        check_page(
            &page,
            conv,
            before,
            m as Seq,
            limit,
            &owner,
            bytes,
            &mut checks,
        );
    }
    checks.verified(format!(
        "fill: {m} messages acknowledged with seqs exactly 1..{m}; every page: the right {limit} seqs in ascending order, \
         has_more correct, each message's client_msg_id and content as sent with that seq"
    ));
    report.checks = checks;
    report.metric("messages_stored", m as f64, "msgs");
    report.metric("fill_seconds", fill_secs, "s");
    report.metric("fill_rate", m as f64 / fill_secs.max(1e-9), "msgs/s");
    report.metric("pages_timed", all.len() as f64, "pages");
    report.metric("page_p50", hist_ms(&all, 0.5), "ms");
    report.metric("page_p99", hist_ms(&all, 0.99), "ms");
    report.metric("page_p99_9", hist_ms(&all, 0.999), "ms");
    report.metric("page_max", all.max() as f64 / 1000.0, "ms");
    report.metric("newest_page_p50", hist_ms(&newest, 0.5), "ms");
    report.metric("newest_page_p99", hist_ms(&newest, 0.99), "ms");
    if !older.is_empty() {
        report.metric("older_page_p50", hist_ms(&older, 0.5), "ms");
        report.metric("older_page_p99", hist_ms(&older, 0.99), "ms");
    }
    if let Some(rss) = target.rss_kib() {
        report.metric("server_rss_after", rss as f64 / 1024.0, "MiB");
    }
    report.target(
        "history p99 ≤ 5 ms per page (1,000,000 messages)",
        "page_p99",
        5.0,
        false,
        m >= 1_000_000,
    );
    Ok(report)
}

/// One GET, timed from sending the request to having the whole body; then parsed.
async fn timed_get(api: &Api, me: &BenchUser, path: &str) -> R<(u64, HistoryPage)> {
    let t = Instant::now();
    let res = api
        .http
        .get(api.url(path))
        .header("cookie", me.cookie())
        .send()
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    let status = res.status();
    let body = res.bytes().await.map_err(|e| format!("GET {path}: {e}"))?;
    let us = (t.elapsed().as_micros() as u64).max(1);
    if !status.is_success() {
        return Err(format!(
            "GET {path}: {status} {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    let page: HistoryPage =
        serde_json::from_slice(&body).map_err(|e| format!("GET {path}: {e}"))?;
    Ok((us, page))
}

#[allow(clippy::too_many_arguments)]
fn check_page(
    page: &HistoryPage,
    conv: ConversationId,
    before: Option<Seq>,
    last: Seq,
    limit: usize,
    owner: &[u64],
    bytes: usize,
    checks: &mut Checks,
) {
    let end = before.map(|b| b - 1).unwrap_or(last);
    let start = (end - limit as Seq + 1).max(1);
    let what = format!("page before={before:?}");
    if page.conversation_id != conv {
        checks.fail(format!("{what}: conversation {}", page.conversation_id));
    }
    if page.messages.len() as Seq != end - start + 1 {
        checks.fail(format!(
            "{what}: {} messages, expected {}",
            page.messages.len(),
            end - start + 1
        ));
        return;
    }
    if page.has_more != (start > 1) {
        checks.fail(format!("{what}: has_more = {}", page.has_more));
    }
    for (k, msg) in page.messages.iter().enumerate() {
        let seq = start + k as Seq;
        if msg.seq != seq {
            checks.fail(format!(
                "{what}: position {k} has seq {}, expected {seq}",
                msg.seq
            ));
            return;
        }
        let packed = owner.get(seq as usize).copied().unwrap_or(0);
        if packed == 0 {
            continue; // already reported as a fill failure
        }
        let (conn, n) = ((packed - 1) >> 32, (packed - 1) & 0xffff_ffff);
        let cmid = format!("h{conn}-{n}");
        if msg.client_msg_id != cmid
            || msg.content.as_deref() != Some(content(&cmid, bytes).as_str())
        {
            checks.fail(format!(
                "{what}: seq {seq} holds {} / {:?}, expected {cmid}",
                msg.client_msg_id, msg.content
            ));
        }
    }
}
