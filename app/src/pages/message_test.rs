//! `/message-test`: watch the delivery machinery work — live socket state and event log,
//! heartbeat round trips, an offline-message test, a chat-history test, push statistics.
//! For the server's operators only (`operators`, `COURIER_OPERATORS`): anyone else gets a notice.

use std::collections::HashSet;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::format;
use crate::components::{ConnBadge, LangSwitch};
use crate::i18n::use_i18n;
use crate::model::{ConversationId, Diagnostics, MessageId, SendAck, SendMessageRequest};
use crate::rtt;
use crate::socket::RTT_CAPACITY;
use crate::state::{new_client_msg_id, use_app};
use crate::store::Phase;
use crate::store::HISTORY_PAGE_SIZE;

/// How long the offline test keeps watching for pushes (the recipient may log in later).
const OFFLINE_WATCH: Duration = Duration::from_secs(15 * 60);
const POLL_EVERY: Duration = Duration::from_secs(1);
const STATS_EVERY: Duration = Duration::from_secs(3);
const MAX_BURST: u32 = 1_000;
/// Waiting out a `429` without a `Retry-After`, and the bounds on what one may ask for.
const RETRY_DEFAULT_MS: u64 = 1_000;
const RETRY_MIN_MS: u64 = 100;
const RETRY_MAX_MS: u64 = 30_000;
/// Refusals in a row for one message before the run gives up.
const MAX_REFUSALS: u32 = 100;

fn perf_now() -> f64 {
    window()
        .performance()
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

#[component]
pub fn MessageTestPage() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let phase = app.phase;
    let operator = Memo::new(move |_| app.operator.get());
    view! {
        <main class="mt-page">
            <header class="mt-head">
                <h1>{move || i18n.t().message_test}</h1>
                <div class="head-actions">
                    <a class="link-button" href="/">{move || i18n.t().back_to_chat}</a>
                    <LangSwitch />
                </div>
            </header>
            {move || match phase.get() {
                Phase::Checking => view! { <div class="boot" aria-busy="true"></div> }.into_any(),
                Phase::LoggedOut => {
                    view! {
                        <p class="login-prompt">
                            {move || i18n.t().login_required}
                            " "
                            <a href="/login" data-testid="go-login">{move || i18n.t().go_login}</a>
                        </p>
                    }
                        .into_any()
                }
                Phase::LoggedIn => {
                    match operator.get() {
                        None => view! { <div class="boot" aria-busy="true"></div> }.into_any(),
                        // Not an operator: nothing here runs (no tests, no statistics polling).
                        Some(false) => {
                            view! {
                                <p class="login-prompt mt-forbidden" data-testid="mt-forbidden" role="status">
                                    {move || i18n.t().mt_forbidden}
                                    " "
                                    <a href="/">{move || i18n.t().back_to_chat}</a>
                                </p>
                            }
                                .into_any()
                        }
                        Some(true) => {
                            view! {
                                <div class="mt-grid">
                                    <SocketPanel />
                                    <StatsPanel />
                                    <OfflineTest />
                                    <HistoryTest />
                                </div>
                            }
                                .into_any()
                        }
                    }
                }
            }}
        </main>
    }
}

/// Live socket state, RTT chart and the event log.
#[component]
fn SocketPanel() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let diag = app.diag;
    let last_rtt = Memo::new(move |_| diag.rtt.with(|r| r.back().copied()));
    let log = Memo::new(move |_| {
        diag.log
            .with(|l| l.iter().rev().cloned().collect::<Vec<_>>())
    });
    view! {
        <section class="card mt-socket">
            <h2>{move || i18n.t().mt_ws}</h2>
            <div class="mt-row">
                <ConnBadge testid="mt-conn-state" />
                <span class="mt-muted">
                    {move || diag.connection_id.get().map(|c| format!("#{c}")).unwrap_or_default()}
                </span>
                <button type="button" class="secondary-button" on:click=move |_| app.drop_connection()>
                    {move || i18n.t().mt_reconnect}
                </button>
            </div>
            <div class="mt-row">
                <span>{move || i18n.t().mt_rtt}": "</span>
                <strong
                    data-testid="mt-rtt-value"
                    data-rtt=move || last_rtt.get().map(|v| format!("{v:.1}")).unwrap_or_default()
                >
                    {move || last_rtt.get().map(|v| format!("{v:.1} ms")).unwrap_or_else(|| "–".into())}
                </strong>
            </div>
            <RttChart />
            <div class="mt-row">
                <h3>{move || i18n.t().mt_events}</h3>
                <button type="button" class="link-button" on:click=move |_| diag.log.set(Default::default())>
                    {move || i18n.t().mt_clear}
                </button>
            </div>
            // Scrollable: focusable and named, so a keyboard can scroll it and a screen reader names it.
            <ol
                class="mt-event-log"
                data-testid="mt-event-log"
                aria-live="off"
                tabindex="0"
                aria-label=move || i18n.t().mt_events
            >
                <For
                    each=move || log.get()
                    key=|e| e.id
                    children=move |e| {
                        let ms = e.at as i64;
                        let stamp = format!("{}:{:02}.{:03}", format::clock(ms), (ms / 1000) % 60, ms % 1000);
                        view! {
                            <li class=format!("log-{}", e.kind.as_str()) data-kind=e.kind.as_str()>
                                <time>{stamp}</time>
                                <span class="log-kind">{e.kind.as_str()}</span>
                                <code>{e.text}</code>
                            </li>
                        }
                    }
                />
            </ol>
        </section>
    }
}

/// The last heartbeat round trips: a line over a fixed-height box with y gridlines at 0, ½ and
/// the top (labels in HTML text), the newest sample at the right edge, and a summary beside it.
#[component]
fn RttChart() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let samples = Memo::new(move |_| app.diag.rtt.with(|r| r.iter().copied().collect::<Vec<_>>()));
    // Points in percent of the plot: x from the left, y from the bottom.
    let chart = Memo::new(move |_| {
        samples.with(|r| {
            let top = rtt::axis_max(r.iter().copied().fold(0.0_f64, f64::max));
            let slots = RTT_CAPACITY.saturating_sub(1).max(1) as f64;
            let offset = RTT_CAPACITY.saturating_sub(r.len()) as f64;
            let points = r
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let x = (offset + i as f64) * 100.0 / slots;
                    (x, (v / top * 100.0).clamp(0.0, 100.0))
                })
                .collect::<Vec<_>>();
            (top, points)
        })
    });
    let line = move || {
        chart.with(|(_, pts)| {
            pts.iter()
                .map(|(x, y)| format!("{x:.2},{:.2}", 100.0 - y))
                .collect::<Vec<_>>()
                .join(" ")
        })
    };
    let summary = Memo::new(move |_| samples.with(|r| rtt::summarize(r)));
    let fig = move |f: fn(&rtt::RttSummary) -> f64| {
        summary
            .get()
            .map(|s| format!("{:.1}", f(&s)))
            .unwrap_or_default()
    };
    let shown = move |f: fn(&rtt::RttSummary) -> f64| {
        summary
            .get()
            .map(|s| format!("{:.1}", f(&s)))
            .unwrap_or_else(|| "—".into())
    };
    view! {
        <figure
            class="mt-rtt"
            data-testid="mt-rtt-chart"
            data-samples=move || samples.with(|r| r.len().to_string())
        >
            <div class="mt-rtt-box">
                <div class="mt-rtt-plot">
                    {move || {
                        let top = chart.with(|c| c.0);
                        [1.0, 0.5, 0.0]
                            .into_iter()
                            .map(|frac| {
                                view! {
                                    <div class="mt-rtt-grid" style:bottom=format!("{}%", frac * 100.0)>
                                        <span class="mt-rtt-tick" data-testid="mt-rtt-tick">
                                            {rtt::label(top * frac)}
                                        </span>
                                    </div>
                                }
                            })
                            .collect_view()
                    }}
                    <svg class="mt-rtt-svg" viewBox="0 0 100 100" preserveAspectRatio="none" aria-hidden="true">
                        <polyline points=line class="rtt-line" fill="none" />
                    </svg>
                    {move || {
                        chart
                            .with(|c| c.1.clone())
                            .into_iter()
                            .map(|(x, y)| {
                                view! {
                                    <span
                                        class="mt-rtt-dot"
                                        style:left=format!("{x:.2}%")
                                        style:bottom=format!("{y:.2}%")
                                    ></span>
                                }
                            })
                            .collect_view()
                    }}
                </div>
            </div>
            <figcaption class="mt-rtt-caption">{move || i18n.t().mt_rtt_axis}</figcaption>
        </figure>
        <p
            class="mt-rtt-summary"
            data-testid="mt-rtt-summary"
            data-last=move || fig(|s| s.last)
            data-min=move || fig(|s| s.min)
            data-median=move || fig(|s| s.median)
            data-p95=move || fig(|s| s.p95)
        >
            {move || {
                let t = i18n.t();
                format!(
                    "{} {} · {} {} · {} {} · {} {} (ms)",
                    t.mt_rtt_last,
                    shown(|s| s.last),
                    t.mt_rtt_min,
                    shown(|s| s.min),
                    t.mt_rtt_median,
                    shown(|s| s.median),
                    t.mt_rtt_p95,
                    shown(|s| s.p95),
                )
            }}
        </p>
    }
}

/// Push statistics from `/api/diagnostics`, refreshed every few seconds.
#[component]
fn StatsPanel() -> impl IntoView {
    let i18n = use_i18n();
    let diag = RwSignal::new(None::<Diagnostics>);
    let error = RwSignal::new(None::<String>);
    let refresh = move || {
        spawn_local(async move {
            match api::diagnostics().await {
                Ok(d) => {
                    let _ = diag.try_set(Some(d));
                    let _ = error.try_set(None);
                }
                Err(e) => {
                    let _ = error.try_set(Some(e.to_string()));
                }
            }
        })
    };
    refresh();
    if let Ok(h) = set_interval_with_handle(refresh, STATS_EVERY) {
        on_cleanup(move || h.clear());
    }
    // Server-wide figures for operators; everyone else sees their own.
    let pending = move || {
        diag.with(|d| {
            d.as_ref()
                .map(|d| d.server.as_ref().unwrap_or(&d.my_records).pending)
                .unwrap_or(0)
        })
    };
    // Connections are counted by the node that answered: in a cluster the label names it.
    let per_node = move |label: &'static str| match diag.with(|d| d.as_ref().and_then(|d| d.node)) {
        Some(node) => format!("{label} ({} {node})", i18n.t().mt_node),
        None => label.to_string(),
    };
    // Of the pushes that ended, how many succeeded; none while nothing has ended.
    let rate = move || {
        diag.with(|d| {
            let s = d
                .as_ref()
                .map(|d| d.server.as_ref().unwrap_or(&d.sent_records));
            let (ok, bad) = s.map(|s| (s.pushed, s.failed)).unwrap_or((0, 0));
            (ok + bad > 0).then(|| ok as f64 * 100.0 / (ok + bad) as f64)
        })
    };
    let row = move |label: &'static str, get: fn(&Diagnostics) -> (i64, i64, i64)| {
        view! {
            <tr>
                <th scope="row">{label}</th>
                {move || {
                    let (p, ok, f) = diag.with(|d| d.as_ref().map(get).unwrap_or((0, 0, 0)));
                    view! {
                        <td>{p}</td>
                        <td>{ok}</td>
                        <td>{f}</td>
                    }
                }}
            </tr>
        }
    };
    view! {
        <section
            class="card mt-stats"
            data-testid="mt-stats"
            data-pending=move || pending().to_string()
            data-success-rate=move || rate().map(|r| format!("{r:.1}")).unwrap_or_default()
        >
            <div class="mt-row">
                <h2>{move || i18n.t().mt_stats}</h2>
                <button type="button" class="link-button" on:click=move |_| refresh()>
                    {move || i18n.t().mt_refresh}
                </button>
            </div>
            <dl class="mt-kv">
                <dt>{move || i18n.t().mt_pending}</dt>
                <dd>{pending}</dd>
                <dt>{move || i18n.t().mt_success_rate}</dt>
                <dd data-testid="mt-success-rate">
                    {move || rate().map(|r| format!("{r:.1}%")).unwrap_or_else(|| "—".into())}
                </dd>
                <dt>{move || per_node(i18n.t().mt_online_users)}</dt>
                <dd>{move || count_or_dash(diag.with(|d| d.as_ref().and_then(|d| d.online_users)))}</dd>
                <dt>{move || per_node(i18n.t().mt_connections)}</dt>
                <dd>{move || count_or_dash(diag.with(|d| d.as_ref().and_then(|d| d.open_connections)))}</dd>
            </dl>
            {move || {
                let t = i18n.t();
                view! {
                    <table class="mt-table">
                        <thead>
                            <tr>
                                <th scope="col">
                                    <span class="visually-hidden">{t.mt_records}</span>
                                </th>
                                <th scope="col">{t.mt_pending}</th>
                                <th scope="col">{t.mt_pushed}</th>
                                <th scope="col">{t.mt_failed}</th>
                            </tr>
                        </thead>
                        <tbody>
                            {row(t.mt_my_backlog, |d| (d.my_records.pending, d.my_records.pushed, d.my_records.failed))}
                            {row(t.mt_sent_by_me, |d| (d.sent_records.pending, d.sent_records.pushed, d.sent_records.failed))}
                            {move || {
                                diag.with(|d| d.as_ref().is_some_and(|d| d.server.is_some()))
                                    .then(|| {
                                        row(t.mt_server, |d| {
                                            d.server
                                                .as_ref()
                                                .map(|s| (s.pending, s.pushed, s.failed))
                                                .unwrap_or((0, 0, 0))
                                        })
                                    })
                            }}
                        </tbody>
                    </table>
                }
            }}
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
        </section>
    }
}

/// Server-wide counts are for operators; others see a dash.
fn count_or_dash(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_else(|| "—".into())
}

#[derive(Debug, Clone, Default, PartialEq)]
struct OfflineRun {
    running: bool,
    total: u32,
    sent: u32,
    pending: u32,
    pushed: u32,
    failed: u32,
    /// Sends refused with `429` and sent again after the `Retry-After` wait.
    throttled: u32,
    error: Option<String>,
}

/// Sends one message, waiting out rate limits: on `429` it sleeps as long as `Retry-After` says
/// and sends the same `client_msg_id` again. `None` when the page was left while waiting.
async fn send_patiently(
    conv: ConversationId,
    req: &SendMessageRequest,
    run: RwSignal<OfflineRun>,
) -> Option<Result<SendAck, api::ApiError>> {
    let mut refusals = 0;
    loop {
        match api::send_message(conv, req).await {
            Err(e) if e.is_rate_limited() && refusals < MAX_REFUSALS => {
                refusals += 1;
                run.try_update(|r| r.throttled += 1)?;
                let wait = e
                    .retry_after_ms()
                    .unwrap_or(RETRY_DEFAULT_MS)
                    .clamp(RETRY_MIN_MS, RETRY_MAX_MS);
                gloo_timers::future::sleep(Duration::from_millis(wait)).await;
            }
            other => return Some(other),
        }
    }
}

/// Sends a burst to one user over HTTP, then watches the push records of those messages.
#[component]
fn OfflineTest() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let target = RwSignal::new(String::new());
    let count = RwSignal::new("10".to_string());
    let run = RwSignal::new(OfflineRun::default());

    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if run.with_untracked(|r| r.running) {
            return;
        }
        let name = target.get_untracked().trim().to_string();
        let n = count
            .get_untracked()
            .trim()
            .parse::<u32>()
            .unwrap_or(10)
            .clamp(1, MAX_BURST);
        let Some(me) = app.store.with_untracked(|s| s.me_id()) else {
            return;
        };
        run.set(OfflineRun {
            running: true,
            total: n,
            ..Default::default()
        });
        spawn_local(async move {
            let fail = |e: String| {
                let _ = run.try_update(|r| {
                    r.error = Some(e);
                    r.running = false;
                });
            };
            let user = match api::search_users(&name, 20).await {
                Ok(users) => users
                    .into_iter()
                    .find(|u| u.username.eq_ignore_ascii_case(&name)),
                Err(e) => return fail(e.to_string()),
            };
            let Some(user) = user else {
                return fail(i18n.lang.get_untracked().strings().mt_user_not_found.into());
            };
            let conv = match api::start_direct(user.id).await {
                Ok(c) => c,
                Err(e) => return fail(e.to_string()),
            };
            let conv_id: ConversationId = conv.id;
            app.note_conversation(conv);
            let stamp = js_sys::Date::new_0()
                .to_iso_string()
                .as_string()
                .unwrap_or_default();
            let mut ids = HashSet::<MessageId>::new();
            for i in 1..=n {
                let req = SendMessageRequest {
                    client_msg_id: new_client_msg_id(me),
                    content: format!("offline test {i}/{n} · {stamp}"),
                };
                let Some(sent) = send_patiently(conv_id, &req, run).await else {
                    return; // the page was left
                };
                match sent {
                    Ok(ack) => {
                        ids.insert(ack.message.id);
                        app.note_sent(ack);
                        if run.try_update(|r| r.sent = i).is_none() {
                            return; // the page was left
                        }
                    }
                    Err(e) => return fail(e.to_string()),
                }
            }
            // Watch the push records of exactly these messages until every one has ended,
            // pushed or failed (asked for by id: the recent records of /api/diagnostics stop
            // at 50).
            let started = perf_now();
            let watched: Vec<MessageId> = ids.iter().copied().collect();
            loop {
                if let Ok(st) = api::push_records(watched.clone()).await {
                    let (pending, pushed, failed) =
                        (st.pending as u32, st.pushed as u32, st.failed as u32);
                    let done = pushed + failed >= n;
                    let alive = run.try_update(|r| {
                        r.pending = pending;
                        r.pushed = pushed;
                        r.failed = failed;
                        r.running = !done;
                    });
                    if alive.is_none() || done {
                        return;
                    }
                }
                if perf_now() - started > OFFLINE_WATCH.as_millis() as f64 {
                    let _ = run.try_update(|r| r.running = false);
                    return;
                }
                gloo_timers::future::sleep(POLL_EVERY).await;
            }
        });
    };

    view! {
        <section class="card mt-offline">
            <h2>{move || i18n.t().mt_offline}</h2>
            <p class="mt-muted">{move || i18n.t().mt_offline_help}</p>
            <form class="mt-form" on:submit=start>
                <label class="field">
                    <span>{move || i18n.t().mt_target}</span>
                    <input
                        type="text"
                        data-testid="mt-offline-target"
                        autocapitalize="none"
                        prop:value=move || target.get()
                        on:input=move |ev| target.set(event_target_value(&ev))
                    />
                </label>
                <label class="field narrow">
                    <span>{move || i18n.t().mt_count}</span>
                    <input
                        type="number"
                        min="1"
                        max=MAX_BURST.to_string()
                        data-testid="mt-offline-count"
                        prop:value=move || count.get()
                        on:input=move |ev| count.set(event_target_value(&ev))
                    />
                </label>
                <button
                    type="submit"
                    class="primary-button"
                    data-testid="mt-offline-run"
                    disabled=move || run.with(|r| r.running)
                >
                    {move || if run.with(|r| r.running) { i18n.t().mt_running } else { i18n.t().mt_run }}
                </button>
            </form>
            <div
                class="mt-result"
                data-testid="mt-offline-result"
                data-total=move || run.with(|r| r.total.to_string())
                data-sent=move || run.with(|r| r.sent.to_string())
                data-pending=move || run.with(|r| r.pending.to_string())
                data-pushed=move || run.with(|r| r.pushed.to_string())
                data-failed=move || run.with(|r| r.failed.to_string())
                data-running=move || run.with(|r| r.running.to_string())
                data-throttled=move || run.with(|r| r.throttled.to_string())
            >
                {move || {
                    let t = i18n.t();
                    let r = run.get();
                    let mut text = format!(
                        "{}: {} · {}: {} · {}: {} · {}: {}",
                        t.mt_total, r.total, t.mt_pending, r.pending, t.mt_pushed, r.pushed, t.mt_failed, r.failed,
                    );
                    if r.throttled > 0 {
                        text.push_str(&format!(" · {}: {}", t.mt_throttled, r.throttled));
                    }
                    text
                }}
                {move || run.with(|r| r.error.clone()).map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            </div>
        </section>
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
struct HistoryRun {
    running: bool,
    count: usize,
    pages: usize,
    ms: f64,
    /// Every seq from the newest down to 1 came exactly once.
    gapless: Option<bool>,
    error: Option<String>,
}

/// Pages one conversation's whole history back and reports count, pages and time.
#[component]
fn HistoryTest() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let options = Memo::new(move |_| {
        app.store.with(|s| {
            s.conversation_list()
                .into_iter()
                .map(|c| (c.info.id, c.info.title.clone()))
                .collect::<Vec<_>>()
        })
    });
    let chosen = RwSignal::new(String::new());
    let run = RwSignal::new(HistoryRun::default());

    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let picked = chosen.get_untracked();
        let id = picked
            .parse::<ConversationId>()
            .ok()
            .or_else(|| options.with_untracked(|o| o.first().map(|(id, _)| *id)));
        let Some(id) = id else { return };
        if run.with_untracked(|r| r.running) {
            return;
        }
        run.set(HistoryRun {
            running: true,
            ..Default::default()
        });
        spawn_local(async move {
            let started = perf_now();
            let (mut before, mut count, mut pages) = (None, 0usize, 0usize);
            let mut expect_last = None; // the seq the next (older) page must end at
            let mut gapless = true;
            loop {
                let page = match api::history(id, before, HISTORY_PAGE_SIZE).await {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = run.try_update(|r| {
                            r.running = false;
                            r.error = Some(e.to_string());
                        });
                        return;
                    }
                };
                pages += 1;
                count += page.messages.len();
                let seqs: Vec<_> = page.messages.iter().map(|m| m.seq).collect();
                gapless &= seqs.windows(2).all(|w| w[1] == w[0] + 1);
                if let (Some(exp), Some(&last)) = (expect_last, seqs.last()) {
                    gapless &= last == exp;
                }
                let first = seqs.first().copied();
                if run
                    .try_update(|r| {
                        r.count = count;
                        r.pages = pages;
                        r.ms = perf_now() - started;
                    })
                    .is_none()
                {
                    return;
                }
                match first {
                    Some(f) if page.has_more => {
                        before = Some(f);
                        expect_last = Some(f - 1);
                    }
                    _ => {
                        gapless &= first.is_none_or(|f| f == 1);
                        break;
                    }
                }
            }
            let _ = run.try_update(|r| {
                r.running = false;
                r.ms = perf_now() - started;
                r.gapless = Some(gapless);
            });
        });
    };

    view! {
        <section class="card mt-history">
            <h2>{move || i18n.t().mt_history}</h2>
            <p class="mt-muted">{move || i18n.t().mt_history_help}</p>
            <form class="mt-form" on:submit=start>
                <label class="field">
                    <span>{move || i18n.t().mt_conversation}</span>
                    <select
                        data-testid="mt-history-conversation"
                        prop:value=move || chosen.get()
                        on:change=move |ev| chosen.set(event_target_value(&ev))
                    >
                        <For
                            each=move || options.get()
                            key=|o| o.clone()
                            children=move |(id, title)| {
                                view! { <option value=id.to_string()>{title}</option> }
                            }
                        />
                    </select>
                </label>
                <button
                    type="submit"
                    class="primary-button"
                    data-testid="mt-history-run"
                    disabled=move || run.with(|r| r.running) || options.with(|o| o.is_empty())
                >
                    {move || if run.with(|r| r.running) { i18n.t().mt_running } else { i18n.t().mt_run }}
                </button>
            </form>
            <div
                class="mt-result"
                data-testid="mt-history-result"
                data-count=move || run.with(|r| r.count.to_string())
                data-pages=move || run.with(|r| r.pages.to_string())
                data-ms=move || run.with(|r| format!("{:.0}", r.ms))
                data-running=move || run.with(|r| r.running.to_string())
                data-gapless=move || run.with(|r| r.gapless.map(|g| g.to_string()).unwrap_or_default())
            >
                {move || {
                    let t = i18n.t();
                    let r = run.get();
                    format!("{}: {} · {}: {} · {}: {:.0}", t.mt_messages, r.count, t.mt_pages, r.pages, t.mt_ms, r.ms)
                }}
                {move || {
                    run.with(|r| r.gapless)
                        .map(|g| {
                            let text = move || if g { i18n.t().mt_gapless } else { i18n.t().mt_gaps };
                            view! {
                                " · "
                                <strong
                                    class="mt-verdict"
                                    class:bad=!g
                                    data-testid="mt-history-verdict"
                                >
                                    {text}
                                </strong>
                            }
                        })
                }}
                {move || run.with(|r| r.error.clone()).map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            </div>
        </section>
    }
}
