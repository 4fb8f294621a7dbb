//! `throughput`: P sender→recipient pairs, all online; senders pipeline with a bounded window,
//! recipients acknowledge every message. A message counts when its sender has `sent` and its
//! recipient has received it.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::{ConversationId, MessageId, UserId};
use app::protocol::{ClientFrame, ServerFrame};
use clap::Args;
use futures_util::SinkExt;
use serde_json::json;

use crate::client::{content, deadline_in, encode, open_sessions, recv, recv_now, Api, Ws};
use crate::pipeline::{check_sender_seqs, parse_cmid, send_pipelined, SendJob};
use crate::report::{Checks, Report};
use crate::server::{CpuTime, Target};
use crate::{close_all, log, Progress, R};

#[derive(Args, Debug, Clone)]
pub struct ThroughputArgs {
    /// Sender→recipient pairs (two users and one direct conversation each).
    #[arg(long, default_value_t = 50)]
    pub pairs: usize,
    #[arg(long, default_value_t = 2000)]
    pub messages_per_pair: usize,
    /// Sends a sender keeps outstanding (not yet `sent`).
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    /// Approximate size of each message's content.
    #[arg(long, default_value_t = 64)]
    pub content_bytes: usize,
}

const IDLE: Duration = Duration::from_secs(30);

pub async fn run(target: &Target, api: &Api, run_id: &str, a: &ThroughputArgs) -> R<Report> {
    let mut report = Report::new("throughput", json!(a_json(a)));
    let p = a.pairs.max(1);
    let n = a.messages_per_pair;
    log(&format!("throughput: registering {} users", 2 * p));
    let users = api.register_many(&format!("bt{run_id}_"), 2 * p).await?;
    let (senders, recipients) = users.split_at(p);
    let pairs: Vec<_> = senders
        .iter()
        .zip(recipients)
        .map(|(s, r)| (s.index, r.index))
        .collect();
    if let Some(note) = target.crossing_note(&pairs) {
        report.note(note);
    }
    let convs = api
        .directs(
            senders
                .iter()
                .zip(recipients)
                .map(|(s, r)| (s.clone(), r.id()))
                .collect(),
        )
        .await?;
    log(&format!("throughput: opening {} WebSockets", 2 * p));
    let sender_ws = open_sessions(target, senders, 16).await?;
    let recipient_ws = open_sessions(target, recipients, 16).await?;

    log(&format!(
        "throughput: {p} pairs × {n} messages, window {}",
        a.window
    ));
    let progress = Arc::new(AtomicU64::new(0));
    let ticker = Progress::start("throughput: sent", progress.clone(), (p * n) as u64);
    let stages0 = target.stages(&api.http).await;
    let (cpu0, bench0, cs0, t0) = (
        target.cpu(),
        CpuTime::of_self(),
        target.ctx_switches(),
        Instant::now(),
    );
    let mut tasks = Vec::new();
    for (i, (mut sws, mut rws)) in sender_ws.into_iter().zip(recipient_ws).enumerate() {
        let job = SendJob {
            conversation: convs[i],
            prefix: format!("tp{i}"),
            count: n,
            window: a.window,
            content_bytes: a.content_bytes,
        };
        let sender_id = senders[i].id();
        let progress = progress.clone();
        let send = tokio::spawn(async move {
            let r = send_pipelined(&mut sws, sender_id, &job, &progress, IDLE).await;
            (sws, job, r)
        });
        let (prefix, conv, bytes) = (format!("tp{i}"), convs[i], a.content_bytes);
        let receive = tokio::spawn(async move {
            let r = receive_all(&mut rws, conv, sender_id, &prefix, n, bytes).await;
            (rws, r)
        });
        tasks.push((send, receive));
    }
    let mut checks = Checks::default();
    let mut finished = t0;
    let mut sockets = Vec::new();
    let mut counted = 0usize;
    for (send, receive) in tasks {
        let (sws, job, sr) = send.await.map_err(|e| format!("sender task failed: {e}"))?;
        let (rws, rr) = receive
            .await
            .map_err(|e| format!("recipient task failed: {e}"))?;
        finished = finished.max(sr.finished).max(rr.finished);
        check_sender_seqs(&job, &sr.seqs, &mut checks);
        if sr.acknowledged != n {
            checks.fail(format!(
                "{}: {} of {n} sends acknowledged",
                job.prefix, sr.acknowledged
            ));
        }
        if rr.received != n {
            checks.fail(format!(
                "{}: recipient received {} of {n}",
                job.prefix, rr.received
            ));
        }
        // Recipient saw exactly the message ids the sender was acknowledged.
        if rr.ids != sr.ids {
            checks.fail(format!(
                "{}: the message ids received differ from those acknowledged to the sender",
                job.prefix
            ));
        }
        counted += sr.acknowledged.min(rr.received);
        checks.merge(sr.checks);
        checks.merge(rr.checks);
        sockets.push(sws);
        sockets.push(rws);
    }
    let elapsed = finished.duration_since(t0).as_secs_f64();
    let (cpu1, bench1, cs1) = (target.cpu(), CpuTime::of_self(), target.ctx_switches());
    let stages1 = target.stages(&api.http).await;
    ticker.stop().await;

    // The server recorded every acknowledgement: nothing is pending or failed for any recipient.
    for r in recipients {
        if let Err(e) = api.wait_all_acknowledged(r, Duration::from_secs(30)).await {
            checks.fail(e);
        }
    }
    close_all(sockets).await;

    let total = (p * n) as f64;
    checks.verified(format!(
        "{} messages: each `sent` exactly once, seqs 1..{n} in send order per conversation, \
         received exactly once and in seq order with the right content, acknowledged (server shows 0 pending/failed records)",
        p * n
    ));
    report.checks = checks;
    report.metric("messages_verified", counted as f64, "msgs");
    report.metric("seconds", elapsed, "s");
    report.metric("throughput", total / elapsed.max(1e-9), "msgs/s");
    if let (Some(b), Some(a)) = (&stages0, &stages1) {
        a.report_since(b, &mut report);
    }
    if let (Some(c0), Some(c1)) = (cpu0, cpu1) {
        let s = c1.secs_since(&c0);
        report.metric("server_cpu_seconds", s, "s");
        report.metric("server_cpu_per_message", s * 1e6 / total.max(1.0), "µs/msg");
        report.metric("server_cpu_utilisation", s / elapsed.max(1e-9), "cores");
    } else {
        report.note("server CPU not measured (pass --server-pid with --url)");
    }
    if let (Some(b0), Some(b1)) = (bench0, bench1) {
        report.metric(
            "bench_cpu_per_message",
            b1.secs_since(&b0) * 1e6 / total.max(1.0),
            "µs/msg",
        );
    }
    if let (Some(a), Some(b)) = (cs0, cs1) {
        let per = b.saturating_sub(a) as f64 / total.max(1.0);
        report.metric("server_context_switches_per_message", per, "switches/msg");
    }
    let applies = p * n >= 50_000;
    report.target(
        "throughput ≥ 20,000 verified msgs/s",
        "throughput",
        20_000.0,
        true,
        applies,
    );
    Ok(report)
}

fn a_json(a: &ThroughputArgs) -> serde_json::Value {
    json!({ "pairs": a.pairs, "messages_per_pair": a.messages_per_pair, "window": a.window, "content_bytes": a.content_bytes })
}

pub struct Received {
    pub received: usize,
    /// Message id of message n (as received).
    pub ids: Vec<MessageId>,
    pub checks: Checks,
    pub finished: Instant,
}

/// Receives `count` messages of one sender in one conversation, checking order (seq 1, 2, …),
/// uniqueness and content, and acknowledging every one (one `ack` per burst of frames).
pub async fn receive_all(
    ws: &mut Ws,
    conv: ConversationId,
    sender: UserId,
    prefix: &str,
    count: usize,
    content_bytes: usize,
) -> Received {
    let mut r = Received {
        received: 0,
        ids: vec![0; count],
        checks: Checks::default(),
        finished: Instant::now(),
    };
    let mut expected_seq = 1;
    let mut to_ack: Vec<MessageId> = Vec::new();
    while r.received < count {
        let first = recv(ws, deadline_in(IDLE)).await;
        let mut frames = vec![first];
        while frames.len() < 512 {
            match recv_now(ws) {
                Some(f) => frames.push(f),
                None => break,
            }
        }
        for f in frames {
            match f {
                Ok(ServerFrame::Message { message }) => {
                    if message.conversation_id != conv || message.sender_id != sender {
                        r.checks
                            .fail(format!("{prefix}: unexpected message {message:?}"));
                        continue;
                    }
                    if message.seq != expected_seq {
                        r.checks.fail(format!(
                            "{prefix}: received seq {} where {expected_seq} was next",
                            message.seq
                        ));
                    }
                    expected_seq = message.seq + 1;
                    match parse_cmid(prefix, &message.client_msg_id).filter(|n| *n < count) {
                        Some(n) if r.ids[n] == 0 => {
                            if message.content.as_deref()
                                != Some(content(&message.client_msg_id, content_bytes).as_str())
                            {
                                r.checks.fail(format!(
                                    "{}: content differs from what was sent",
                                    message.client_msg_id
                                ));
                            }
                            r.ids[n] = message.id;
                            r.received += 1;
                        }
                        Some(_) => r
                            .checks
                            .fail(format!("{}: received twice", message.client_msg_id)),
                        None => r
                            .checks
                            .fail(format!("unknown client_msg_id {}", message.client_msg_id)),
                    }
                    to_ack.push(message.id);
                }
                Ok(ServerFrame::Error { code, message, .. }) => r
                    .checks
                    .fail(format!("{prefix}: server error {code}: {message}")),
                Ok(_) => {}
                Err(e) => {
                    r.checks.fail(format!(
                        "{prefix} recipient: {e} after {}/{count} messages",
                        r.received
                    ));
                    r.finished = Instant::now();
                    return r;
                }
            }
        }
        if !to_ack.is_empty() {
            let ids = std::mem::take(&mut to_ack);
            if let Err(e) = ws
                .send(encode(&ClientFrame::Ack { message_ids: ids }))
                .await
            {
                r.checks.fail(format!("{prefix}: ack failed: {e}"));
                break;
            }
        }
    }
    r.finished = Instant::now();
    r
}
