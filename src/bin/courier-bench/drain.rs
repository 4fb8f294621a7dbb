//! `drain`: one user is offline while M messages are sent to them from several senders
//! (pipelined over WebSocket); then the user connects, and the replay is timed from connect to
//! `caught_up` with everything received and acknowledged, while the server's RSS is sampled.

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::{MessageId, Seq};
use app::protocol::{ClientFrame, ServerFrame};
use clap::Args;
use futures_util::SinkExt;
use serde_json::json;

use crate::client::{connect_ws, content, deadline_in, encode, open_sessions, recv, Api};
use crate::pipeline::{check_sender_seqs, parse_cmid, send_pipelined, SendJob};
use crate::report::{Checks, Report};
use crate::server::{RssSampler, Target};
use crate::{close_all, log, Progress, R};

#[derive(Args, Debug, Clone)]
pub struct DrainArgs {
    /// Messages waiting for the offline user.
    #[arg(long, default_value_t = 10_000)]
    pub messages: usize,
    /// Users sending them (one direct conversation each).
    #[arg(long, default_value_t = 8)]
    pub senders: usize,
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    #[arg(long, default_value_t = 64)]
    pub content_bytes: usize,
}

pub async fn run(target: &Target, api: &Api, run_id: &str, a: &DrainArgs) -> R<Report> {
    let k = a.senders.clamp(1, a.messages.max(1));
    let m = a.messages;
    let mut report = Report::new(
        "drain",
        json!({ "messages": m, "senders": k, "window": a.window, "content_bytes": a.content_bytes }),
    );
    log(&format!("drain: registering {} users", k + 1));
    let users = api.register_many(&format!("bd{run_id}_"), k + 1).await?;
    let (receiver, senders) = (&users[0], &users[1..]);
    let convs = api
        .directs(senders.iter().map(|s| (s.clone(), receiver.id())).collect())
        .await?;
    let sockets = open_sessions(target, senders, 16).await?;

    // Fill: the receiver has never connected.
    log(&format!(
        "drain: sending {m} messages to an offline user from {k} senders"
    ));
    let progress = Arc::new(AtomicU64::new(0));
    let ticker = Progress::start("drain: fill", progress.clone(), m as u64);
    let fill_start = Instant::now();
    let mut tasks = Vec::new();
    for (i, mut ws) in sockets.into_iter().enumerate() {
        let count = m / k + usize::from(i < m % k);
        let job = SendJob {
            conversation: convs[i],
            prefix: format!("dr{i}"),
            count,
            window: a.window,
            content_bytes: a.content_bytes,
        };
        let (sender, progress) = (senders[i].id(), progress.clone());
        tasks.push(tokio::spawn(async move {
            let r = send_pipelined(&mut ws, sender, &job, &progress, Duration::from_secs(30)).await;
            (ws, job, r)
        }));
    }
    let mut checks = Checks::default();
    let mut jobs = Vec::new();
    let mut sender_sockets = Vec::new();
    for t in tasks {
        let (ws, job, r) = t.await.map_err(|e| format!("sender task failed: {e}"))?;
        check_sender_seqs(&job, &r.seqs, &mut checks);
        if r.acknowledged != job.count {
            checks.fail(format!(
                "{}: {} of {} sends acknowledged",
                job.prefix, r.acknowledged, job.count
            ));
        }
        checks.merge(r.checks);
        sender_sockets.push(ws);
        jobs.push((job, r.ids));
    }
    let fill_secs = fill_start.elapsed().as_secs_f64();
    ticker.stop().await;
    log(&format!(
        "drain: filled in {fill_secs:.1} s ({:.0} msgs/s); the user connects now",
        m as f64 / fill_secs.max(1e-9)
    ));

    // Drain.
    let rss_before = target.rss_kib();
    let sampler = target
        .pid
        .map(|pid| RssSampler::start(pid, Duration::from_millis(50)));
    let (cpu0, cs0, t0) = (target.cpu(), target.ctx_switches(), Instant::now());
    let drained = drain(target, receiver, &jobs, a.content_bytes, m).await;
    let drain_secs = t0.elapsed().as_secs_f64();
    let (cpu1, cs1) = (target.cpu(), target.ctx_switches());
    let (peak, samples) = match sampler {
        Some(s) => {
            let (p, n) = s.stop().await;
            (Some(p), n)
        }
        None => (None, 0),
    };
    let (mut ws, dchecks, pages) = drained;
    checks.merge(dchecks);
    if let Err(e) = api
        .wait_all_acknowledged(receiver, Duration::from_secs(30))
        .await
    {
        checks.fail(e);
    }
    if let Some(w) = ws.as_mut() {
        let _ = w.close(None).await;
    }
    close_all(sender_sockets).await;

    checks.verified(format!(
        "fill: {m} `sent` acknowledgements, seqs 1..n per conversation; drain: `caught_up` after exactly {m} replayed messages, \
         each once, in seq order per conversation, with the right content and seq; all acknowledged (0 pending/failed records)"
    ));
    report.checks = checks;
    report.metric("messages_verified", m as f64, "msgs");
    report.metric("fill_seconds", fill_secs, "s");
    report.metric("fill_rate", m as f64 / fill_secs.max(1e-9), "msgs/s");
    report.metric("drain_seconds", drain_secs, "s");
    report.metric("drain_rate", m as f64 / drain_secs.max(1e-9), "msgs/s");
    report.metric("replay_pages", pages as f64, "pages");
    report.metric_opt(
        "server_rss_before",
        rss_before.map(|v| v as f64 / 1024.0),
        "MiB",
    );
    report.metric_opt(
        "server_rss_peak_during_drain",
        peak.map(|v| v as f64 / 1024.0),
        "MiB",
    );
    if let (Some(b), Some(p)) = (rss_before, peak) {
        report.metric(
            "server_rss_growth_during_drain",
            p.saturating_sub(b) as f64 / 1024.0,
            "MiB",
        );
        report.metric("rss_samples", samples as f64, "samples");
    }
    if let (Some(c0), Some(c1)) = (cpu0, cpu1) {
        let s = c1.secs_since(&c0);
        report.metric(
            "server_cpu_per_message",
            s * 1e6 / m.max(1) as f64,
            "µs/msg",
        );
        report.metric("server_cpu_utilisation", s / drain_secs.max(1e-9), "cores");
    }
    if let (Some(a), Some(b)) = (cs0, cs1) {
        let per = b.saturating_sub(a) as f64 / m.max(1) as f64;
        report.metric("server_context_switches_per_message", per, "switches/msg");
    }
    report.target(
        "drain ≥ 50,000 msgs/s (100,000 backlog)",
        "drain_rate",
        50_000.0,
        true,
        m >= 100_000,
    );
    Ok(report)
}

/// Connects the receiver and acknowledges every replayed page until `caught_up`.
async fn drain(
    target: &Target,
    receiver: &crate::client::BenchUser,
    jobs: &[(SendJob, Vec<MessageId>)],
    content_bytes: usize,
    m: usize,
) -> (Option<crate::client::Ws>, Checks, usize) {
    let mut checks = Checks::default();
    let mut ws = match connect_ws(target, receiver, None, false).await {
        Ok(ws) => ws,
        Err(e) => {
            checks.fail(format!("receiver cannot connect: {e}"));
            return (None, checks, 0);
        }
    };
    // Per conversation: the next seq expected, and message ids by seq (from the senders' acks).
    let mut next_seq: Vec<Seq> = vec![1; jobs.len()];
    let conv_index: std::collections::HashMap<i64, usize> = jobs
        .iter()
        .enumerate()
        .map(|(i, (j, _))| (j.conversation, i))
        .collect();
    let mut seen: HashSet<MessageId> = HashSet::with_capacity(m);
    let mut pages = 0;
    let mut welcomed = false;
    let deadline = deadline_in(Duration::from_secs(600));
    loop {
        match recv(&mut ws, deadline.min(deadline_in(Duration::from_secs(30)))).await {
            Ok(ServerFrame::Welcome { .. }) => welcomed = true,
            Ok(ServerFrame::Batch { messages, .. }) => {
                if !welcomed {
                    checks.fail("batch before welcome");
                }
                pages += 1;
                let ids: Vec<MessageId> = messages.iter().map(|m| m.id).collect();
                for msg in messages {
                    let Some(&ci) = conv_index.get(&msg.conversation_id) else {
                        checks.fail(format!(
                            "replayed a message of an unknown conversation: {msg:?}"
                        ));
                        continue;
                    };
                    let (job, acked_ids) = &jobs[ci];
                    if msg.seq != next_seq[ci] {
                        checks.fail(format!(
                            "{}: replayed seq {} where {} was next",
                            job.prefix, msg.seq, next_seq[ci]
                        ));
                    }
                    next_seq[ci] = msg.seq + 1;
                    if !seen.insert(msg.id) {
                        checks.fail(format!("message {} replayed twice", msg.id));
                        continue;
                    }
                    match parse_cmid(&job.prefix, &msg.client_msg_id).filter(|n| *n < job.count) {
                        Some(n) => {
                            if acked_ids[n] != msg.id || msg.seq != n as Seq + 1 {
                                checks.fail(format!(
                                    "{}: id/seq differ from the sender's acknowledgement",
                                    msg.client_msg_id
                                ));
                            }
                            if msg.content.as_deref()
                                != Some(content(&msg.client_msg_id, content_bytes).as_str())
                            {
                                checks.fail(format!("{}: content differs", msg.client_msg_id));
                            }
                        }
                        None => checks.fail(format!("unknown client_msg_id {}", msg.client_msg_id)),
                    }
                }
                if let Err(e) = ws
                    .send(encode(&ClientFrame::Ack { message_ids: ids }))
                    .await
                {
                    checks.fail(format!("ack failed: {e}"));
                    return (Some(ws), checks, pages);
                }
            }
            Ok(ServerFrame::CaughtUp { replayed, .. }) => {
                if replayed != m as i64 || seen.len() != m {
                    checks.fail(format!(
                        "caught_up after {replayed} replayed ({} distinct received); {m} were sent",
                        seen.len()
                    ));
                }
                return (Some(ws), checks, pages);
            }
            Ok(ServerFrame::Error { code, message, .. }) => {
                checks.fail(format!("server error {code}: {message}"))
            }
            Ok(_) => {}
            Err(e) => {
                checks.fail(format!(
                    "drain: {e} after {} messages in {pages} pages",
                    seen.len()
                ));
                return (Some(ws), checks, pages);
            }
        }
    }
}
