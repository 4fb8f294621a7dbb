//! `search`: one group whose history is M long CJK texts (default 5,000 of 4,000 characters, much
//! of them runs of 的), then
//!
//! 1. the security review's worst query (99 × 的 + 乙) and other substring queries, timed one at a
//!    time and checked against the corpus (every hit holds the query; the count is right);
//! 2. a quiet phase: other users send (HTTP, send → 201 stored) and read history pages, timed;
//! 3. a flood phase: the same, while one user loops that worst search on 16 connections.
//!
//! The flood must leave the others' send and history p99 within 2× of the quiet figures.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::model::{ConversationId, SearchPage, SendMessageRequest};
use clap::Args;
use futures_util::StreamExt;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::client::{Api, BenchUser};
use crate::report::{hist_ms, new_hist, Checks, Report};
use crate::server::Target;
use crate::{log, R};

#[derive(Args, Debug, Clone)]
pub struct SearchArgs {
    /// Messages in the group before searching.
    #[arg(long, default_value_t = 5000)]
    pub messages: usize,
    /// Characters per message.
    #[arg(long, default_value_t = 4000)]
    pub chars: usize,
    /// Timed runs of each query.
    #[arg(long, default_value_t = 15)]
    pub runs: usize,
    /// Seconds of each phase (quiet, flood).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Connections the flooding user searches on.
    #[arg(long, default_value_t = 16)]
    pub flood_connections: usize,
}

/// Common characters the texts are drawn from (乙 among them, so the worst query's last
/// trigram does occur here and there).
const CHARS: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质信";

pub async fn run(target: &Target, api: &Api, run_id: &str, a: &SearchArgs) -> R<Report> {
    let m = a.messages.max(1);
    let chars = a.chars.clamp(110, app::model::MAX_CONTENT_CHARS);
    let mut report = Report::new(
        "search",
        json!({ "messages": m, "chars": chars, "runs": a.runs, "seconds": a.seconds, "flood_connections": a.flood_connections }),
    );
    let users = api.register_many(&format!("bs{run_id}_"), 6).await?;
    let (owner, searcher, flooder) = (&users[0], &users[1], &users[2]);
    let others = &users[3..];
    let conv = group(api, owner, &users[1..]).await?;

    // The corpus: each text a run of 的 (a third to two thirds of it) around random common
    // characters; kept here to check the answers.
    log(&format!(
        "search: filling group {conv} with {m} messages of {chars} characters"
    ));
    let pool: Vec<char> = CHARS.chars().collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let texts: Vec<String> = (0..m)
        .map(|_| {
            let run = rng.gen_range(chars / 3..chars * 2 / 3);
            let head = rng.gen_range(0..chars - run);
            (0..chars)
                .map(|i| {
                    if (head..head + run).contains(&i) {
                        '的'
                    } else {
                        pool[rng.gen_range(0..pool.len())]
                    }
                })
                .collect()
        })
        .collect();
    let fill_start = Instant::now();
    let sent: Vec<R<u64>> = futures_util::stream::iter(texts.iter().enumerate().map(|(i, t)| {
        let (api, owner) = (api.clone(), owner);
        async move { send(&api, owner, conv, &format!("s{i}"), t).await }
    }))
    .buffer_unordered(8)
    .collect()
    .await;
    let mut checks = Checks::default();
    if let Some(Err(e)) = sent.iter().find(|r| r.is_err()) {
        checks.fail(format!("fill: {e}"));
    }
    let fill_secs = fill_start.elapsed().as_secs_f64();
    log(&format!("search: filled in {fill_secs:.1} s"));
    report.metric("fill_secs", fill_secs, "s");

    // The server indexes new messages in the background (and a search first indexes what is
    // left, under its deadline): right after a bulk fill the first searches may stop at the
    // deadline. Wait for the index to catch up before timing, and report how long it took.
    let worst = format!("{}乙", "的".repeat(99));
    let catch_up = Instant::now();
    let mut stopped = 0u64;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        match timed_search(api, searcher, &worst).await {
            Ok((_, 200, _)) => break,
            Ok((_, 503, _)) if catch_up.elapsed() < Duration::from_secs(300) => stopped += 1,
            Ok((_, status, _)) => {
                checks.fail(format!("index catch-up: status {status}"));
                break;
            }
            Err(e) => {
                checks.fail(format!("index catch-up: {e}"));
                break;
            }
        }
    }
    let catch_up_secs = catch_up.elapsed().as_secs_f64();
    log(&format!(
        "search: index caught up {catch_up_secs:.1} s after the fill ({stopped} searches stopped at the deadline meanwhile)"
    ));
    report.metric("index_catch_up_secs", catch_up_secs, "s");
    report.metric("index_catch_up_timeouts", stopped as f64, "searches");

    // 1. Queries, one at a time, each checked against the corpus.
    let queries: [(&str, &str); 4] = [
        ("worst", worst.as_str()),
        ("long_run", &worst[..worst.len() - '乙'.len_utf8()]),
        ("absent", "乙乙乙乙"),
        ("short", "的"),
    ];
    for (name, q) in queries {
        let expected = texts.iter().filter(|t| t.contains(q)).count().min(20);
        let mut hist = new_hist();
        for _ in 0..a.runs.max(1) {
            // The searcher's bucket holds 20 and refills 5 a second: keep under it.
            tokio::time::sleep(Duration::from_millis(210)).await;
            match timed_search(api, searcher, q).await {
                Ok((us, 200, Some(page))) => {
                    hist.saturating_record(us);
                    let wrong = page
                        .hits
                        .iter()
                        .any(|h| h.content.as_deref().map(|c| !c.contains(q)).unwrap_or(true));
                    if wrong || page.hits.len() != expected {
                        checks.fail(format!(
                            "query {name}: {} hits (expected {expected}), wrong hit: {wrong}",
                            page.hits.len()
                        ));
                    }
                }
                Ok((_, status, _)) => checks.fail(format!("query {name}: status {status}")),
                Err(e) => checks.fail(format!("query {name}: {e}")),
            }
        }
        report.metric(&format!("query_{name}_p50"), hist_ms(&hist, 0.5), "ms");
        report.metric(
            &format!("query_{name}_max"),
            hist.max() as f64 / 1000.0,
            "ms",
        );
    }

    // 2. and 3.: the others' sends and history pages, quiet and under the flood.
    let phase = Duration::from_secs(a.seconds.max(1));
    log("search: quiet phase");
    let quiet = others_work(api, others, conv, phase, "q").await;
    log(&format!(
        "search: flood phase ({} connections)",
        a.flood_connections
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let statuses = Arc::new(Mutex::new(HashMap::<u16, u64>::new()));
    let mut flood = Vec::new();
    for _ in 0..a.flood_connections.max(1) {
        // A client of its own: its own TCP connection.
        let api = Api {
            base: api.base.clone(),
            http: reqwest::Client::new(),
        };
        let (stop, statuses, q) = (stop.clone(), statuses.clone(), worst.clone());
        let flooder = BenchUser {
            user: flooder.user.clone(),
            token: flooder.token.clone(),
            index: flooder.index,
        };
        flood.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let status = match timed_search(&api, &flooder, &q).await {
                    Ok((_, s, _)) => s,
                    Err(_) => 0,
                };
                *statuses.lock().unwrap().entry(status).or_default() += 1;
            }
        }));
    }
    let flooded = others_work(api, others, conv, phase, "f").await;
    stop.store(true, Ordering::Relaxed);
    for t in flood {
        let _ = t.await;
    }
    for (work, name) in [(&quiet, "quiet"), (&flooded, "flood")] {
        if let Some(e) = &work.error {
            checks.fail(format!("{name} phase: {e}"));
        }
        report.metric(
            &format!("{name}_send_p99"),
            hist_ms(&work.sends, 0.99),
            "ms",
        );
        report.metric(
            &format!("{name}_history_p99"),
            hist_ms(&work.pages, 0.99),
            "ms",
        );
        report.metric(&format!("{name}_sends"), work.sends.len() as f64, "sends");
    }
    let ratio = |a: f64, b: f64| a / b.max(0.001);
    report.metric(
        "flood_send_p99_ratio",
        ratio(hist_ms(&flooded.sends, 0.99), hist_ms(&quiet.sends, 0.99)),
        "x",
    );
    report.metric(
        "flood_history_p99_ratio",
        ratio(hist_ms(&flooded.pages, 0.99), hist_ms(&quiet.pages, 0.99)),
        "x",
    );
    let statuses = statuses.lock().unwrap().clone();
    for (status, n) in &statuses {
        report.metric(&format!("flood_status_{status}"), *n as f64, "requests");
    }
    if statuses.keys().any(|s| ![200, 429, 503].contains(s)) {
        checks.fail(format!(
            "flood answers other than 200/429/503: {statuses:?}"
        ));
    }
    if !statuses.contains_key(&429) {
        checks.fail("the flooding user was never refused (429)");
    }
    checks.verified(format!(
        "{m} texts stored; every timed query's hits hold the query and number min(20, matches in the corpus); \
         the flood was answered 200/429/503 only, with 429s"
    ));
    report.checks = checks;
    report.metric("fill_seconds", fill_secs, "s");
    if let Some(rss) = target.rss_kib() {
        report.metric("server_rss_after", rss as f64 / 1024.0, "MiB");
    }
    let full = m >= 5000 && chars >= 4000;
    report.target(
        "worst CJK query (99 × 的 + 乙) ≤ 50 ms (5,000 × 4,000 chars)",
        "query_worst_p50",
        50.0,
        false,
        full,
    );
    report.target(
        "others' send p99 under a 16-connection search flood ≤ 2× quiet",
        "flood_send_p99_ratio",
        2.0,
        false,
        full,
    );
    report.target(
        "others' history p99 under a 16-connection search flood ≤ 2× quiet",
        "flood_history_p99_ratio",
        2.0,
        false,
        full,
    );
    Ok(report)
}

async fn group(api: &Api, owner: &BenchUser, members: &[BenchUser]) -> R<ConversationId> {
    let ids: Vec<_> = members.iter().map(|u| u.id()).collect();
    let res = api
        .http
        .post(api.url("/api/conversations/group"))
        .header("cookie", owner.cookie())
        .json(&json!({ "title": "search bench", "member_ids": ids }))
        .send()
        .await
        .map_err(|e| format!("create group: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("create group: {}", res.status()));
    }
    let v: serde_json::Value = res.json().await.map_err(|e| format!("group body: {e}"))?;
    v["id"]
        .as_i64()
        .ok_or_else(|| format!("group body without id: {v}"))
}

/// One HTTP send, timed until the 201 (stored: the HTTP form of `sent`).
async fn send(api: &Api, me: &BenchUser, conv: ConversationId, cmid: &str, text: &str) -> R<u64> {
    let t = Instant::now();
    let res = api
        .http
        .post(api.url(&format!("/api/conversations/{conv}/messages")))
        .header("cookie", me.cookie())
        .json(&SendMessageRequest {
            client_msg_id: cmid.to_string(),
            content: text.to_string(),
        })
        .send()
        .await
        .map_err(|e| format!("send {cmid}: {e}"))?;
    let status = res.status();
    let _ = res.bytes().await;
    if status.as_u16() != 201 {
        return Err(format!("send {cmid}: {status}"));
    }
    Ok((t.elapsed().as_micros() as u64).max(1))
}

async fn timed_search(api: &Api, me: &BenchUser, q: &str) -> R<(u64, u16, Option<SearchPage>)> {
    let url = reqwest::Url::parse_with_params(&api.url("/api/search"), [("q", q)])
        .map_err(|e| format!("search url: {e}"))?;
    let t = Instant::now();
    let res = api
        .http
        .get(url)
        .header("cookie", me.cookie())
        .send()
        .await
        .map_err(|e| format!("search: {e}"))?;
    let status = res.status().as_u16();
    let body = res.bytes().await.map_err(|e| format!("search: {e}"))?;
    let us = (t.elapsed().as_micros() as u64).max(1);
    let page = if status == 200 {
        Some(serde_json::from_slice(&body).map_err(|e| format!("search body: {e}"))?)
    } else {
        None
    };
    Ok((us, status, page))
}

struct Work {
    sends: hdrhistogram::Histogram<u64>,
    pages: hdrhistogram::Histogram<u64>,
    error: Option<String>,
}

/// Each of `users` alternately sends a short message and reads the newest history page, about
/// 20 times a second each, for `d`.
async fn others_work(
    api: &Api,
    users: &[BenchUser],
    conv: ConversationId,
    d: Duration,
    tag: &str,
) -> Work {
    let tasks: Vec<_> = users
        .iter()
        .map(|u| {
            let api = api.clone();
            let u = BenchUser {
                user: u.user.clone(),
                token: u.token.clone(),
                index: u.index,
            };
            let tag = format!("{tag}{}", u.id());
            tokio::spawn(async move {
                let (mut sends, mut pages) = (new_hist(), new_hist());
                let end = Instant::now() + d;
                let mut n = 0;
                while Instant::now() < end {
                    n += 1;
                    sends.saturating_record(
                        send(
                            &api,
                            &u,
                            conv,
                            &format!("{tag}-{n}"),
                            "你好，会议几点开始？",
                        )
                        .await?,
                    );
                    let path = format!("/api/conversations/{conv}/messages?limit=50");
                    let t = Instant::now();
                    let res = api
                        .http
                        .get(api.url(&path))
                        .header("cookie", u.cookie())
                        .send()
                        .await
                        .map_err(|e| format!("history: {e}"))?;
                    let ok = res.status().is_success();
                    let _ = res.bytes().await;
                    if !ok {
                        return Err("history page refused".to_string());
                    }
                    pages.saturating_record((t.elapsed().as_micros() as u64).max(1));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok::<_, String>((sends, pages))
            })
        })
        .collect();
    let mut work = Work {
        sends: new_hist(),
        pages: new_hist(),
        error: None,
    };
    for t in tasks {
        match t.await {
            Ok(Ok((s, p))) => {
                let _ = work.sends.add(&s);
                let _ = work.pages.add(&p);
            }
            Ok(Err(e)) => work.error = Some(e),
            Err(e) => work.error = Some(format!("task: {e}")),
        }
    }
    work
}
