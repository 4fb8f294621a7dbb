//! `latency`: U connected users in a ring (user i writes to user i+1 in their direct
//! conversation), messages at a fixed total rate for a fixed time. The send time travels in the
//! content; the recipient measures send → receive.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::{ConversationId, MessageId, UserId};
use app::protocol::{ClientFrame, ServerFrame};
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::json;

use crate::client::{content, encode, open_sessions, recv, recv_now, Api, Ws};
use crate::pipeline::parse_cmid;
use crate::report::{hist_ms, new_hist, Checks, Report};
use crate::server::{CpuTime, Target};
use crate::{close_all, log, R};

#[derive(Args, Debug, Clone)]
pub struct LatencyArgs {
    /// Connected users (at least 3); each sends rate/users messages per second.
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Total messages per second, across all users.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    #[arg(long, default_value_t = 64)]
    pub content_bytes: usize,
}

struct UserResult {
    send_to_receive: Histogram<u64>,
    send_to_sent: Histogram<u64>,
    sent: usize,
    acknowledged: usize,
    received: usize,
    first_send: Option<Instant>,
    last_send: Option<Instant>,
    checks: Checks,
}

struct Plan {
    me: usize,
    my_id: UserId,
    out_conv: ConversationId,
    in_conv: ConversationId,
    from: UserId,
    from_index: usize,
    count: usize,
    first_tick: tokio::time::Instant,
    period: Duration,
    deadline: tokio::time::Instant,
    content_bytes: usize,
    epoch: Instant,
}

pub async fn run(target: &Target, api: &Api, run_id: &str, a: &LatencyArgs) -> R<Report> {
    let u = a.users.max(3);
    let rate = a.rate.max(0.1);
    let mut report = Report::new(
        "latency",
        json!({ "users": u, "rate_per_sec": rate, "seconds": a.seconds, "content_bytes": a.content_bytes }),
    );
    log(&format!("latency: registering {u} users"));
    let users = api.register_many(&format!("bl{run_id}_"), u).await?;
    let convs = api
        .directs(
            (0..u)
                .map(|i| (users[i].clone(), users[(i + 1) % u].id()))
                .collect(),
        )
        .await?;
    log(&format!("latency: opening {u} WebSockets"));
    let sockets = open_sessions(target, &users, 32).await?;

    let ring: Vec<_> = (0..u)
        .map(|i| (users[i].index, users[(i + 1) % u].index))
        .collect();
    if let Some(note) = target.crossing_note(&ring) {
        report.note(note);
    }
    let per_user = ((rate * a.seconds as f64) / u as f64).round().max(1.0) as usize;
    let period = Duration::from_secs_f64(u as f64 / rate);
    log(&format!(
        "latency: {u} users × {per_user} messages (one every {:.1} ms each, {rate} msgs/s in total) for {} s",
        period.as_secs_f64() * 1000.0,
        a.seconds
    ));
    let epoch = Instant::now();
    let start = tokio::time::Instant::now() + Duration::from_millis(300);
    let deadline = start + Duration::from_secs(a.seconds) + Duration::from_secs(60);
    let stages0 = target.stages(&api.http).await;
    let (cpu0, bench0, cs0, t0) = (
        target.cpu(),
        CpuTime::of_self(),
        target.ctx_switches(),
        Instant::now(),
    );
    let mut tasks = Vec::with_capacity(u);
    for (i, ws) in sockets.into_iter().enumerate() {
        let prev = (i + u - 1) % u;
        let plan = Plan {
            me: i,
            my_id: users[i].id(),
            out_conv: convs[i],
            in_conv: convs[prev],
            from: users[prev].id(),
            from_index: prev,
            count: per_user,
            // Staggered so the total rate is smooth: user i sends at start + i/rate + k·period.
            first_tick: start + Duration::from_secs_f64(i as f64 / rate),
            period,
            deadline,
            content_bytes: a.content_bytes,
            epoch,
        };
        tasks.push(tokio::spawn(user_loop(ws, plan)));
    }
    let progress_stop = Arc::new(tokio::sync::Notify::new());
    let ps = progress_stop.clone();
    let secs = a.seconds;
    let progress = tokio::spawn(async move {
        let mut t = tokio::time::interval(Duration::from_secs(5));
        t.tick().await;
        loop {
            tokio::select! {
                _ = t.tick() => log(&format!("latency: {:.0} s of {secs} s", epoch.elapsed().as_secs_f64())),
                _ = ps.notified() => break,
            }
        }
    });

    let mut s2r = new_hist();
    let mut s2s = new_hist();
    let mut checks = Checks::default();
    let (mut sent, mut acked, mut received) = (0, 0, 0);
    let (mut first, mut last): (Option<Instant>, Option<Instant>) = (None, None);
    let mut sockets = Vec::new();
    for t in tasks {
        let (ws, r) = t.await.map_err(|e| format!("user task failed: {e}"))?;
        sockets.push(ws);
        let _ = s2r.add(&r.send_to_receive);
        let _ = s2s.add(&r.send_to_sent);
        sent += r.sent;
        acked += r.acknowledged;
        received += r.received;
        first = match (first, r.first_send) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        last = last.max(r.last_send);
        checks.merge(r.checks);
    }
    progress_stop.notify_one();
    let _ = progress.await;
    let elapsed = t0.elapsed().as_secs_f64();
    let (cpu1, bench1, cs1) = (target.cpu(), CpuTime::of_self(), target.ctx_switches());
    let stages1 = target.stages(&api.http).await;
    let expected = per_user * u;
    if sent != expected || acked != expected || received != expected {
        checks.fail(format!(
            "expected {expected}: sent {sent}, acknowledged {acked}, received {received}"
        ));
    }
    // Every recipient's records are all acknowledged on the server.
    let results: Vec<R<()>> = futures_util::stream::iter(
        users
            .iter()
            .map(|u| api.wait_all_acknowledged(u, Duration::from_secs(30))),
    )
    .buffer_unordered(16)
    .collect()
    .await;
    for r in results {
        if let Err(e) = r {
            checks.fail(e);
        }
    }
    close_all(sockets).await;
    checks.verified(format!(
        "{expected} messages: each `sent` once, received exactly once in seq order (1, 2, …) with the right content, \
         all acknowledged (server shows 0 pending/failed records for all {u} users)"
    ));
    report.checks = checks;
    let send_span = match (first, last) {
        (Some(f), Some(l)) if l > f => l.duration_since(f).as_secs_f64(),
        _ => 0.0,
    };
    report.metric("messages_verified", received as f64, "msgs");
    report.metric("offered_rate", rate, "msgs/s");
    // n messages spread over n-1 intervals.
    let achieved = if send_span > 0.0 {
        (sent.saturating_sub(1)) as f64 / send_span
    } else {
        0.0
    };
    report.metric("achieved_send_rate", achieved, "msgs/s");
    report.metric("latency_p50", hist_ms(&s2r, 0.50), "ms");
    report.metric("latency_p90", hist_ms(&s2r, 0.90), "ms");
    report.metric("latency_p99", hist_ms(&s2r, 0.99), "ms");
    report.metric("latency_p99_9", hist_ms(&s2r, 0.999), "ms");
    report.metric("latency_max", s2r.max() as f64 / 1000.0, "ms");
    report.metric("send_to_sent_p50", hist_ms(&s2s, 0.50), "ms");
    report.metric("send_to_sent_p99", hist_ms(&s2s, 0.99), "ms");
    if let (Some(b), Some(a)) = (&stages0, &stages1) {
        a.report_since(b, &mut report);
    }
    if let (Some(c0), Some(c1)) = (cpu0, cpu1) {
        let s = c1.secs_since(&c0);
        report.metric("server_cpu_utilisation", s / elapsed.max(1e-9), "cores");
        report.metric(
            "server_cpu_per_message",
            s * 1e6 / expected.max(1) as f64,
            "µs/msg",
        );
    }
    if let (Some(b0), Some(b1)) = (bench0, bench1) {
        report.metric(
            "bench_cpu_utilisation",
            b1.secs_since(&b0) / elapsed.max(1e-9),
            "cores",
        );
    }
    if let (Some(a), Some(b)) = (cs0, cs1) {
        report.metric(
            "server_context_switches_per_message",
            b.saturating_sub(a) as f64 / expected.max(1) as f64,
            "switches/msg",
        );
    }
    if achieved < rate * 0.95 {
        report.note(format!("the bench achieved {achieved:.0} msgs/s of the {rate} offered (the machine is saturated)"));
    }
    let applies = rate >= 5000.0 && u >= 1000;
    report.target(
        "latency p99 ≤ 10 ms at 5,000 msgs/s",
        "latency_p99",
        10.0,
        false,
        applies,
    );
    Ok(report)
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

async fn user_loop(mut ws: Ws, p: Plan) -> (Ws, UserResult) {
    let mut r = UserResult {
        send_to_receive: new_hist(),
        send_to_sent: new_hist(),
        sent: 0,
        acknowledged: 0,
        received: 0,
        first_send: None,
        last_send: None,
        checks: Checks::default(),
    };
    let out_prefix = format!("L{}", p.me);
    let in_prefix = format!("L{}", p.from_index);
    let mut send_times: Vec<Option<Instant>> = vec![None; p.count];
    let mut seen = vec![false; p.count];
    let mut expected_seq = 1;
    let mut ticker = tokio::time::interval_at(p.first_tick, p.period);
    let mut to_ack: Vec<MessageId> = Vec::new();
    while r.sent < p.count || r.acknowledged < r.sent || r.received < p.count {
        let mut frames = Vec::new();
        tokio::select! {
            _ = ticker.tick(), if r.sent < p.count => {
                let n = r.sent;
                let cmid = format!("{out_prefix}-{n}");
                let now = Instant::now();
                let head = format!("{cmid} {}", now.duration_since(p.epoch).as_nanos());
                let f = ClientFrame::Send { client_msg_id: cmid, conversation_id: p.out_conv, content: content(&head, p.content_bytes) };
                if let Err(e) = ws.send(encode(&f)).await {
                    r.checks.fail(format!("{out_prefix}: send failed: {e}"));
                    break;
                }
                send_times[n] = Some(now);
                r.first_send.get_or_insert(now);
                r.last_send = Some(now);
                r.sent += 1;
            }
            f = recv(&mut ws, p.deadline) => {
                frames.push(f);
                while frames.len() < 256 {
                    match recv_now(&mut ws) {
                        Some(f) => frames.push(f),
                        None => break,
                    }
                }
            }
        }
        for f in frames {
            match f {
                Ok(ServerFrame::Message { message }) => {
                    let at = Instant::now();
                    if message.conversation_id != p.in_conv || message.sender_id != p.from {
                        r.checks
                            .fail(format!("{out_prefix}: unexpected message {message:?}"));
                        continue;
                    }
                    if message.seq != expected_seq {
                        r.checks.fail(format!(
                            "{in_prefix}→{out_prefix}: seq {} where {expected_seq} was next",
                            message.seq
                        ));
                    }
                    expected_seq = message.seq + 1;
                    to_ack.push(message.id);
                    let Some(n) =
                        parse_cmid(&in_prefix, &message.client_msg_id).filter(|n| *n < p.count)
                    else {
                        r.checks
                            .fail(format!("unknown client_msg_id {}", message.client_msg_id));
                        continue;
                    };
                    if seen[n] {
                        r.checks
                            .fail(format!("{}: received twice", message.client_msg_id));
                        continue;
                    }
                    seen[n] = true;
                    r.received += 1;
                    let text = message.content.unwrap_or_default();
                    let mut parts = text.split(' ');
                    let (cmid, ts) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                    let head = format!("{cmid} {ts}");
                    if cmid != message.client_msg_id || text != content(&head, p.content_bytes) {
                        r.checks.fail(format!(
                            "{}: content differs from what was sent",
                            message.client_msg_id
                        ));
                    }
                    match ts.parse::<u128>() {
                        Ok(ns) => {
                            let now_ns = at.duration_since(p.epoch).as_nanos();
                            let us = (now_ns.saturating_sub(ns) / 1000).max(1) as u64;
                            r.send_to_receive.saturating_record(us);
                        }
                        Err(_) => r.checks.fail(format!(
                            "{}: no timestamp in content",
                            message.client_msg_id
                        )),
                    }
                }
                Ok(ServerFrame::Sent {
                    client_msg_id,
                    message,
                    duplicate,
                }) => {
                    let at = Instant::now();
                    match parse_cmid(&out_prefix, &client_msg_id).filter(|n| *n < p.count) {
                        Some(n) => match send_times[n].take() {
                            Some(t) => {
                                r.acknowledged += 1;
                                r.send_to_sent
                                    .saturating_record(micros(at.duration_since(t)).max(1));
                                if duplicate
                                    || message.conversation_id != p.out_conv
                                    || message.sender_id != p.my_id
                                {
                                    r.checks.fail(format!(
                                        "{client_msg_id}: bad acknowledgement {message:?}"
                                    ));
                                }
                            }
                            None => r.checks.fail(format!(
                                "{client_msg_id}: acknowledged twice or before it was sent"
                            )),
                        },
                        None => r.checks.fail(format!("`sent` for unknown {client_msg_id}")),
                    }
                }
                Ok(ServerFrame::Error {
                    code,
                    message,
                    client_msg_id,
                    ..
                }) => {
                    r.checks.fail(format!(
                        "{out_prefix}: server error {code}: {message} ({client_msg_id:?})"
                    ));
                    if client_msg_id.is_some() {
                        // That send will never be acknowledged; stop waiting for it.
                        r.acknowledged += 1;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    r.checks.fail(format!(
                        "{out_prefix}: {e} (sent {}, acknowledged {}, received {} of {})",
                        r.sent, r.acknowledged, r.received, p.count
                    ));
                    return (ws, r);
                }
            }
        }
        if !to_ack.is_empty() {
            let ids = std::mem::take(&mut to_ack);
            if let Err(e) = ws
                .send(encode(&ClientFrame::Ack { message_ids: ids }))
                .await
            {
                r.checks.fail(format!("{out_prefix}: ack failed: {e}"));
                break;
            }
        }
    }
    (ws, r)
}
