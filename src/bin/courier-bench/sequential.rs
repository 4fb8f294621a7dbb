//! `sequential`: one sender, one send in flight, to one online recipient. Without `--rate` the
//! sender sends the next message as soon as the previous one is `sent` (the per-send cost: a
//! commit plus everything around it); with `--rate R` a send starts every 1/R s (never more than
//! one in flight), which measures send → receive on an otherwise idle server. The recipient
//! acknowledges every message as it arrives.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::{ConversationId, MessageId, UserId};
use app::protocol::{ClientFrame, ServerFrame};
use clap::Args;
use futures_util::SinkExt;
use hdrhistogram::Histogram;
use serde_json::json;

use crate::client::{content, deadline_in, encode, open_sessions, recv, Api, Ws};
use crate::pipeline::parse_cmid;
use crate::report::{hist_ms, new_hist, Checks, Report};
use crate::server::{CpuTime, Target};
use crate::{close_all, log, R};

const IDLE: Duration = Duration::from_secs(30);
const PREFIX: &str = "sq";

#[derive(Args, Debug, Clone)]
pub struct SequentialArgs {
    /// Messages to send (without --rate).
    #[arg(long, default_value_t = 5000)]
    pub messages: usize,
    /// Start a send every 1/rate s instead of back to back; then --seconds sets the length.
    #[arg(long)]
    pub rate: Option<f64>,
    /// With --rate: how long to send.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    #[arg(long, default_value_t = 64)]
    pub content_bytes: usize,
}

struct Sent {
    send_to_sent: Histogram<u64>,
    acknowledged: usize,
    checks: Checks,
    elapsed: Duration,
}

struct Received {
    send_to_receive: Histogram<u64>,
    received: usize,
    checks: Checks,
}

pub async fn run(target: &Target, api: &Api, run_id: &str, a: &SequentialArgs) -> R<Report> {
    let count = match a.rate {
        Some(r) => ((r.max(0.1) * a.seconds as f64).round() as usize).max(1),
        None => a.messages.max(1),
    };
    let mut report = Report::new(
        "sequential",
        json!({ "messages": count, "rate_per_sec": a.rate, "seconds": a.rate.map(|_| a.seconds), "content_bytes": a.content_bytes }),
    );
    // A run id of its own: smoke runs this scenario twice in one run.
    let users = api
        .register_many(&format!("sq{run_id}{}_", crate::random_id(3)), 2)
        .await?;
    let conv = api.directs(vec![(users[0].clone(), users[1].id())]).await?[0];
    let mut sockets = open_sessions(target, &users, 2).await?;
    let (rws, sws) = (sockets.pop().expect("two"), sockets.pop().expect("two"));
    log(&format!(
        "sequential: {count} messages, one in flight, {}",
        match a.rate {
            Some(r) => format!("one every {:.2} ms", 1000.0 / r.max(0.1)),
            None => "back to back".into(),
        }
    ));

    // When message n was sent, in ns since `epoch` (0: not yet), for the recipient's latency.
    let epoch = Instant::now();
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..count).map(|_| AtomicU64::new(0)).collect());
    let stages0 = target.stages(&api.http).await;
    let (cpu0, bench0, cs0) = (target.cpu(), CpuTime::of_self(), target.ctx_switches());
    let receiver = tokio::spawn(receive(
        rws,
        conv,
        users[0].id(),
        count,
        a.content_bytes,
        epoch,
        sent_at.clone(),
    ));
    let (sws, s) = send(sws, conv, users[0].id(), count, a, epoch, sent_at).await;
    let (rws, r) = receiver
        .await
        .map_err(|e| format!("recipient task failed: {e}"))?;
    let (cpu1, bench1, cs1) = (target.cpu(), CpuTime::of_self(), target.ctx_switches());
    let stages1 = target.stages(&api.http).await;
    let mut checks = s.checks;
    checks.merge(r.checks);
    if s.acknowledged != count {
        checks.fail(format!("{} of {count} sends acknowledged", s.acknowledged));
    }
    if r.received != count {
        checks.fail(format!("the recipient received {} of {count}", r.received));
    }
    if let Err(e) = api
        .wait_all_acknowledged(&users[1], Duration::from_secs(30))
        .await
    {
        checks.fail(e);
    }
    close_all(vec![sws, rws]).await;
    checks.verified(format!(
        "{count} messages: each `sent` once with seq 1..{count} in send order, received once and in seq order with the \
         right content, all acknowledged (server shows 0 pending/failed records)"
    ));
    report.checks = checks;

    let secs = s.elapsed.as_secs_f64().max(1e-9);
    report.metric(
        "messages_verified",
        s.acknowledged.min(r.received) as f64,
        "msgs",
    );
    report.metric("acknowledged_sends_per_sec", count as f64 / secs, "sends/s");
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99_9", 0.999)] {
        report.metric(
            &format!("send_to_sent_{name}"),
            hist_ms(&s.send_to_sent, q),
            "ms",
        );
    }
    report.metric(
        "send_to_sent_max",
        s.send_to_sent.max() as f64 / 1000.0,
        "ms",
    );
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99_9", 0.999)] {
        report.metric(
            &format!("send_to_receive_{name}"),
            hist_ms(&r.send_to_receive, q),
            "ms",
        );
    }
    report.metric(
        "send_to_receive_max",
        r.send_to_receive.max() as f64 / 1000.0,
        "ms",
    );
    if let (Some(c0), Some(c1)) = (cpu0, cpu1) {
        report.metric(
            "server_cpu_per_send",
            c1.secs_since(&c0) * 1e6 / count as f64,
            "µs/send",
        );
    }
    if let (Some(b0), Some(b1)) = (bench0, bench1) {
        report.metric(
            "bench_cpu_per_send",
            b1.secs_since(&b0) * 1e6 / count as f64,
            "µs/send",
        );
    }
    if let (Some(x), Some(y)) = (cs0, cs1) {
        report.metric(
            "server_context_switches_per_send",
            y.saturating_sub(x) as f64 / count as f64,
            "switches/send",
        );
    }
    match (&stages0, &stages1) {
        (Some(b), Some(a)) => a.report_since(b, &mut report),
        _ => report.note(
            "server stage timings not measured (no metrics endpoint: pass --metrics-url with --url)",
        ),
    }
    match a.rate {
        None => report.target(
            "≥ 3,500 acknowledged sends/s, one in flight",
            "acknowledged_sends_per_sec",
            3_500.0,
            true,
            count >= 2_000,
        ),
        Some(rate) => {
            let applies = rate <= 200.0 && a.seconds >= 20;
            report.target(
                "send → receive p99 ≤ 1 ms at a low rate",
                "send_to_receive_p99",
                1.0,
                false,
                applies,
            );
            report.target(
                "send → receive p99.9 ≤ 3 ms at a low rate",
                "send_to_receive_p99_9",
                3.0,
                false,
                applies,
            );
        }
    }
    Ok(report)
}

/// Sends `count` messages, each after the previous one's `sent` (and, with a rate, not before its
/// tick), and checks every acknowledgement.
async fn send(
    mut ws: Ws,
    conv: ConversationId,
    me: UserId,
    count: usize,
    a: &SequentialArgs,
    epoch: Instant,
    sent_at: Arc<Vec<AtomicU64>>,
) -> (Ws, Sent) {
    let mut s = Sent {
        send_to_sent: new_hist(),
        acknowledged: 0,
        checks: Checks::default(),
        elapsed: Duration::ZERO,
    };
    let period = a.rate.map(|r| Duration::from_secs_f64(1.0 / r.max(0.1)));
    let start = tokio::time::Instant::now();
    let t0 = Instant::now();
    for n in 0..count {
        if let Some(p) = period {
            tokio::time::sleep_until(start + p * n as u32).await;
        }
        let cmid = format!("{PREFIX}-{n}");
        let frame = encode(&ClientFrame::Send {
            content: content(&cmid, a.content_bytes),
            client_msg_id: cmid.clone(),
            conversation_id: conv,
        });
        let t = Instant::now();
        sent_at[n].store(
            t.duration_since(epoch).as_nanos().max(1) as u64,
            Ordering::Relaxed,
        );
        if let Err(e) = ws.send(frame).await {
            s.checks.fail(format!("{cmid}: send failed: {e}"));
            break;
        }
        // Everything but our `sent` (status changes, …) is skipped.
        loop {
            match recv(&mut ws, deadline_in(IDLE)).await {
                Ok(ServerFrame::Sent {
                    client_msg_id,
                    message,
                    duplicate,
                }) if client_msg_id == cmid => {
                    let _ = s.send_to_sent.record(t.elapsed().as_micros().max(1) as u64);
                    if duplicate || message.seq != n as i64 + 1 || message.sender_id != me {
                        s.checks.fail(format!(
                            "{cmid}: acknowledged as seq {} (duplicate: {duplicate}), expected seq {}",
                            message.seq,
                            n + 1
                        ));
                    }
                    s.acknowledged += 1;
                    break;
                }
                Ok(ServerFrame::Sent { client_msg_id, .. }) => {
                    s.checks.fail(format!(
                        "`sent` for {client_msg_id} while {cmid} was in flight"
                    ));
                }
                Ok(ServerFrame::Error { code, message, .. }) => {
                    s.checks
                        .fail(format!("{cmid}: server error {code}: {message}"));
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    s.checks.fail(format!("{cmid}: {e}"));
                    s.elapsed = t0.elapsed();
                    return (ws, s);
                }
            }
        }
    }
    s.elapsed = t0.elapsed();
    (ws, s)
}

/// Receives the sender's messages in seq order, acknowledging each at once, and measures each
/// one's send → receive.
async fn receive(
    mut ws: Ws,
    conv: ConversationId,
    sender: UserId,
    count: usize,
    content_bytes: usize,
    epoch: Instant,
    sent_at: Arc<Vec<AtomicU64>>,
) -> (Ws, Received) {
    let mut r = Received {
        send_to_receive: new_hist(),
        received: 0,
        checks: Checks::default(),
    };
    let mut seen = vec![false; count];
    let mut expected_seq = 1;
    while r.received < count {
        let frame = recv(&mut ws, deadline_in(IDLE)).await;
        let now = epoch.elapsed().as_nanos() as u64;
        match frame {
            Ok(ServerFrame::Message { message }) => {
                let ids: Vec<MessageId> = vec![message.id];
                if message.conversation_id != conv || message.sender_id != sender {
                    r.checks.fail(format!("unexpected message {message:?}"));
                    continue;
                }
                if message.seq != expected_seq {
                    r.checks.fail(format!(
                        "received seq {} where {expected_seq} was next",
                        message.seq
                    ));
                }
                expected_seq = message.seq + 1;
                match parse_cmid(PREFIX, &message.client_msg_id).filter(|n| *n < count) {
                    Some(n) if !seen[n] => {
                        seen[n] = true;
                        r.received += 1;
                        let at = sent_at[n].load(Ordering::Relaxed);
                        if at > 0 && now >= at {
                            let _ = r.send_to_receive.record(((now - at) / 1000).max(1));
                        }
                        if message.content.as_deref()
                            != Some(content(&message.client_msg_id, content_bytes).as_str())
                        {
                            r.checks
                                .fail(format!("{}: content differs", message.client_msg_id));
                        }
                    }
                    Some(_) => r
                        .checks
                        .fail(format!("{}: received twice", message.client_msg_id)),
                    None => r
                        .checks
                        .fail(format!("unknown client_msg_id {}", message.client_msg_id)),
                }
                if let Err(e) = ws
                    .send(encode(&ClientFrame::Ack { message_ids: ids }))
                    .await
                {
                    r.checks.fail(format!("ack failed: {e}"));
                    break;
                }
            }
            Ok(ServerFrame::Error { code, message, .. }) => {
                r.checks.fail(format!("server error {code}: {message}"))
            }
            Ok(_) => {}
            Err(e) => {
                r.checks.fail(format!(
                    "recipient: {e} after {}/{count} messages",
                    r.received
                ));
                break;
            }
        }
    }
    (ws, r)
}
