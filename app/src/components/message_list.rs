//! The message list: day separators, the "new messages" divider, bubbles, status marks, recall;
//! scroll that follows new messages only while the user is at the bottom, loads older pages at
//! the top, and brings a focused message (the first unread, a search hit) into view.

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::components::format;
use crate::components::message_menu::{MessageMenu, OpenMenu};
use crate::components::status_mark::{status_label, status_str, StatusMark};
use crate::i18n::use_i18n;
use crate::linkify;
use crate::model::{ConversationId, Seq};
use crate::state::use_app;
use crate::store::{Focus, HistoryDirection, MessageView};

/// Within this many pixels of the bottom the list follows new messages.
const STICK_PX: i32 = 80;
/// Within this many pixels of the top an older page is requested.
const LOAD_OLDER_PX: i32 = 120;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Row {
    Day {
        day: i64,
        at: i64,
    },
    /// "New messages": the first unread message follows.
    Unread,
    Msg(MessageView),
}

/// The rows of the list; `divider` is the read position the conversation was opened at.
fn rows_of(views: Vec<MessageView>, divider: Option<Seq>) -> Vec<Row> {
    let mut out = Vec::with_capacity(views.len() + 9);
    let mut last_day = None;
    let mut divider = divider;
    for v in views {
        if divider.is_some_and(|d| v.seq.is_some_and(|s| s > d)) {
            out.push(Row::Unread);
            divider = None;
        }
        let day = format::local_day(v.created_at);
        if last_day != Some(day) {
            out.push(Row::Day {
                day,
                at: v.created_at,
            });
            last_day = Some(day);
        }
        out.push(Row::Msg(v));
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Flags {
    loading: bool,
    loaded: bool,
    has_more: bool,
    has_newer: bool,
}

#[component]
pub fn MessageList(
    id: ConversationId,
    #[prop(into)] group: Signal<bool>,
    /// Shared with the composer: sending a message scrolls to it.
    stick: StoredValue<bool>,
) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    OpenMenu::provide();
    let list_ref = NodeRef::<html::Div>::new();
    let divider = Memo::new(move |_| {
        app.store
            .with(|s| s.divider.filter(|(c, _)| *c == id).map(|(_, read)| read))
    });
    let rows = Memo::new(move |_| rows_of(app.store.with(|s| s.message_views(id)), divider.get()));
    let focus = Memo::new(move |_| {
        app.store
            .with(|s| s.focus.filter(|f| f.conversation_id == id))
    });
    // The search hit just scrolled to, highlighted for a moment.
    let highlight = RwSignal::new(None::<Seq>);
    // Scrolled more than a screen up from the newest message in memory.
    let away = RwSignal::new(false);
    // "Jump to latest" asked for the newest page: once it lands, go to the bottom whatever
    // scrolling happened meanwhile.
    let jumping = StoredValue::new(false);
    let flags = Memo::new(move |_| {
        app.store.with(|s| {
            s.timelines
                .get(&id)
                .map(|t| Flags {
                    loading: t.loading.is_some(),
                    loaded: t.loaded,
                    has_more: t.has_more,
                    has_newer: t.has_newer,
                })
                .unwrap_or(Flags {
                    loading: false,
                    loaded: false,
                    has_more: false,
                    has_newer: false,
                })
        })
    });
    // Distance from the bottom before an older page was requested, to restore after it lands.
    let anchor = StoredValue::new(None::<i32>);
    // The first visible message and its offset in the viewport, before a newer page was asked.
    let seq_anchor = StoredValue::new(None::<(String, i32)>);
    let unseen = RwSignal::new(false);

    let load_older = move || {
        let f = flags.get_untracked();
        if f.has_more && !f.loading {
            let from_bottom = list_ref
                .get_untracked()
                .map(|el| el.scroll_height() - el.scroll_top());
            if app.load_history(id, HistoryDirection::Older) {
                anchor.set_value(from_bottom);
            }
        }
    };

    let report_on_screen = move || {
        if let Some(el) = list_ref.get_untracked() {
            app.on_screen(id, newest_on_screen(&el));
        }
    };

    let on_scroll = move |_| {
        let Some(el) = list_ref.get_untracked() else {
            return;
        };
        report_on_screen();
        // While a page lands the position is about to be restored: these events are ours.
        if anchor.get_value().is_some() || seq_anchor.get_value().is_some() || jumping.get_value() {
            return;
        }
        let from_bottom = el.scroll_height() - el.scroll_top() - el.client_height();
        let at_bottom = from_bottom < STICK_PX;
        stick.set_value(at_bottom);
        away.set(from_bottom > el.client_height());
        if at_bottom {
            unseen.set(false);
            let f = flags.get_untracked();
            if f.has_newer && !f.loading {
                // Appending a newer page trims the oldest above: keep the message the user
                // is looking at where it is instead of following the bottom.
                let visible = first_visible(&el);
                if app.load_history(id, HistoryDirection::Newer) {
                    seq_anchor.set_value(visible);
                    stick.set_value(false);
                }
            }
        }
        if el.scroll_top() < LOAD_OLDER_PX {
            load_older();
        }
    };

    let scroll_to_bottom = move || {
        if let Some(el) = list_ref.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
        stick.set_value(true);
        unseen.set(false);
        away.set(false);
    };

    // The floating "jump to latest": the live end is elsewhere (a page around an old message) or
    // far below.
    let jump_to_latest = move || {
        if flags.get_untracked().has_newer {
            stick.set_value(true);
            away.set(false);
            unseen.set(false);
            if app.load_history(id, HistoryDirection::Newest) {
                jumping.set_value(true);
            }
        } else {
            scroll_to_bottom();
        }
    };

    // After each change of the list: keep the reading position, or follow the bottom.
    Effect::new(move |prev: Option<(Option<Seq>, Option<String>)>| {
        let edges = rows.with(|r| {
            let mut msgs = r.iter().filter_map(|row| match row {
                Row::Msg(m) => Some(m),
                Row::Day { .. } | Row::Unread => None,
            });
            let first = msgs.clone().next().and_then(|m| m.seq);
            let last = msgs.next_back().map(|m| m.client_msg_id.clone());
            (first, last)
        });
        let f = flags.get();
        // A new focus (a search hit in memory already) must scroll even if no row changed.
        focus.track();
        let (first, last) = edges.clone();
        request_animation_frame(move || {
            let Some(el) = list_ref.get_untracked() else {
                return;
            };
            if jumping.get_value() {
                if flags.get_untracked().loading {
                    return;
                }
                jumping.set_value(false);
                anchor.set_value(None);
                seq_anchor.set_value(None);
                el.set_scroll_top(el.scroll_height());
                stick.set_value(true);
                unseen.set(false);
                app.on_screen(id, newest_on_screen(&el));
                return;
            }
            if let Some(fc) = focus.get_untracked() {
                // A page is on the way (around the focus, usually): what is shown now is
                // about to be replaced, so scroll once it has landed.
                if flags.get_untracked().loading {
                    return;
                }
                match message_at_or_after(&el, fc.seq) {
                    Some(target) => {
                        bring_into_view(&el, &target, fc);
                        anchor.set_value(None);
                        seq_anchor.set_value(None);
                        let from_bottom = el.scroll_height() - el.scroll_top() - el.client_height();
                        stick.set_value(from_bottom < STICK_PX);
                        away.set(from_bottom > el.client_height());
                        if fc.highlight {
                            let seq = target
                                .get_attribute("data-seq")
                                .and_then(|s| s.parse::<Seq>().ok());
                            highlight.set(seq);
                            set_timeout(
                                move || {
                                    // The list may be gone by now (another conversation).
                                    if highlight.try_get_untracked() == Some(seq) {
                                        highlight.try_set(None);
                                    }
                                },
                                std::time::Duration::from_millis(HIGHLIGHT_MS),
                            );
                        }
                        app.focus_reached();
                        app.on_screen(id, newest_on_screen(&el));
                        return;
                    }
                    // Nothing loaded yet: keep still until it is.
                    None if !f.loaded => return,
                    // Nothing at or after it exists: give up and behave as usual.
                    None => app.focus_reached(),
                }
            }
            let prepended = prev.as_ref().is_some_and(|(pf, _)| *pf != first);
            let appended = prev.as_ref().is_some_and(|(_, pl)| *pl != last);
            let held = seq_anchor.get_value().filter(|_| appended);
            match anchor.get_value() {
                Some(from_bottom) if prepended => {
                    el.set_scroll_top(el.scroll_height() - from_bottom);
                    anchor.set_value(None);
                    stick.set_value(false);
                }
                _ if held.is_some() => {
                    if let Some((seq, offset)) = held {
                        restore_visible(&el, &seq, offset);
                    }
                    seq_anchor.set_value(None);
                    stick.set_value(false);
                }
                _ if stick.get_value() => el.set_scroll_top(el.scroll_height()),
                // New messages below. (Not when the live end is elsewhere: rows added to a page
                // around an old message are history, and "jump to latest" is already shown.)
                _ if appended && !flags.get_untracked().has_newer => unseen.set(true),
                _ => {}
            }
            if !f.loading {
                anchor.set_value(None);
                seq_anchor.set_value(None);
            }
            // Whatever moved, what is on screen may have changed (a message arrived at the
            // bottom the reader is at, a page landed, the position was restored).
            app.on_screen(id, newest_on_screen(&el));
            // Too little to scroll: nothing would ever trigger the older page, so fetch it.
            if f.loaded && f.has_more && !f.loading && el.scroll_height() <= el.client_height() + 4
            {
                app.load_history(id, HistoryDirection::Older);
            }
        });
        edges
    });

    let row_view = move |row: Row| match row {
        Row::Day { at, .. } => {
            let label = move || {
                let lang = i18n.lang.get();
                format::day_label(lang, lang.strings(), at, app.now.get())
            };
            view! {
                <div class="day-separator" data-testid="day-separator" role="separator">
                    <span>{label}</span>
                </div>
            }
            .into_any()
        }
        Row::Unread => view! {
            <div class="unread-divider" data-testid="unread-divider" role="separator">
                <span>{move || i18n.t().unread_divider}</span>
            </div>
        }
        .into_any(),
        Row::Msg(m) => message_view(m, group, highlight).into_any(),
    };

    // Screen readers hear my newest message's status change ("delivered", "read") once, politely;
    // the marks themselves are labelled images.
    let my_newest_status = Memo::new(move |_| {
        rows.with(|r| {
            r.iter().rev().find_map(|row| match row {
                Row::Msg(m) if m.mine && m.seq.is_some() && !m.recalled => Some(m.status),
                _ => None,
            })
        })
    });
    view! {
        <div class="message-list-wrap">
            <span class="visually-hidden" aria-live="polite" data-testid="status-announcer">
                {move || my_newest_status.get().map(|st| status_label(i18n.t(), st))}
            </span>
            <div
                class="message-list"
                data-testid="message-list"
                node_ref=list_ref
                on:scroll=on_scroll
                role="log"
                aria-live="polite"
                aria-busy=move || flags.get().loading.to_string()
            >
                <Show when=move || flags.get().loading>
                    <div class="history-loading" data-testid="history-loading" role="status">
                        <span class="spinner" aria-hidden="true"></span>
                        {move || i18n.t().loading_history}
                    </div>
                </Show>
                <Show when=move || {
                    let f = flags.get();
                    f.loaded && !f.has_more && !f.loading
                }>
                    <div class="history-start" data-testid="history-start">
                        {move || i18n.t().history_start}
                    </div>
                </Show>
                <Show when=move || {
                    let f = flags.get();
                    f.has_more && !f.loading
                }>
                    <button type="button" class="load-older link-button" on:click=move |_| load_older()>
                        {move || i18n.t().load_older}
                    </button>
                </Show>
                <For each=move || rows.get() key=|r| r.clone() children=row_view />
            </div>
            // One floating control to the live end: "new messages" when some arrived below,
            // else "jump to latest" while the live end is elsewhere or a screen away.
            <Show when=move || unseen.get() || flags.get().has_newer || away.get()>
                <button
                    type="button"
                    class="jump-latest"
                    data-testid=move || if unseen.get() { "new-messages-pill" } else { "jump-to-latest" }
                    on:click=move |_| jump_to_latest()
                >
                    {move || if unseen.get() { i18n.t().new_messages_below } else { i18n.t().jump_to_latest }}
                    " ↓"
                </button>
            </Show>
        </div>
    }
}

/// How long a search hit stays highlighted after the list scrolled to it.
const HIGHLIGHT_MS: u64 = 2_500;

/// The committed message bubbles of the list, top to bottom.
fn bubbles(list: &web_sys::HtmlDivElement) -> Option<web_sys::NodeList> {
    list.query_selector_all("[data-testid=message][data-seq]")
        .ok()
}

/// The first message bubble whose seq is at least `seq` (the focused one, or the next one if it
/// is not in the list).
fn message_at_or_after(list: &web_sys::HtmlDivElement, seq: Seq) -> Option<web_sys::Element> {
    let nodes = bubbles(list)?;
    (0..nodes.length())
        .filter_map(|i| nodes.item(i)?.dyn_into::<web_sys::Element>().ok())
        .find(|e| {
            e.get_attribute("data-seq")
                .and_then(|s| s.parse::<Seq>().ok())
                .is_some_and(|s| s >= seq)
        })
}

/// Scrolls a focused message into view: a search hit to the middle, the first unread message a
/// quarter down (its divider and a little of what was read above it stay in view).
fn bring_into_view(list: &web_sys::HtmlDivElement, target: &web_sys::Element, focus: Focus) {
    let view = list.get_bounding_client_rect();
    let r = target.get_bounding_client_rect();
    let y = r.top() - view.top() + list.scroll_top() as f64;
    let top = if focus.highlight {
        y - (view.height() - r.height()).max(0.0) / 2.0
    } else {
        y - view.height() / 4.0
    };
    list.set_scroll_top(top.max(0.0) as i32);
}

/// Share of a bubble (or, for a bubble taller than the list, of the list) that must be in view
/// for the message to count as seen.
const SEEN_SHARE: f64 = 0.6;

/// The seq of the newest committed message on screen: at least [`SEEN_SHARE`] of it in view.
/// `None` when none is — also when the list is not laid out at all (a hidden pane, a phone
/// showing the conversation list).
fn newest_on_screen(list: &web_sys::HtmlDivElement) -> Option<Seq> {
    let view = list.get_bounding_client_rect();
    if view.height() <= 0.0 {
        return None;
    }
    let nodes = bubbles(list)?;
    let rect = |i: u32| -> Option<(web_sys::Element, web_sys::DomRect)> {
        let e = nodes.item(i)?.dyn_into::<web_sys::Element>().ok()?;
        let r = e.get_bounding_client_rect();
        Some((e, r))
    };
    // Bubbles are in document order, top to bottom: find the last one starting above the
    // list's bottom edge by bisection (a long timeline scrolled far up stays cheap).
    let (mut lo, mut hi) = (0u32, nodes.length());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match rect(mid) {
            Some((_, r)) if r.top() < view.bottom() => lo = mid + 1,
            _ => hi = mid,
        }
    }
    // Then walk up to the newest one that is in view enough.
    for i in (0..lo).rev() {
        let (e, r) = rect(i)?;
        if r.bottom() <= view.top() {
            return None;
        }
        let shown = r.bottom().min(view.bottom()) - r.top().max(view.top());
        if shown >= SEEN_SHARE * r.height().min(view.height()) {
            return e.get_attribute("data-seq")?.parse().ok();
        }
    }
    None
}

/// The `data-seq` of the first message at least partly in view, and its offset from the top.
fn first_visible(list: &web_sys::HtmlDivElement) -> Option<(String, i32)> {
    let top = list.scroll_top();
    let nodes = bubbles(list)?;
    (0..nodes.length())
        .filter_map(|i| nodes.item(i)?.dyn_into::<web_sys::HtmlElement>().ok())
        .find(|e| e.offset_top() + e.offset_height() > top)
        .and_then(|e| Some((e.get_attribute("data-seq")?, e.offset_top() - top)))
}

/// Scrolls so that the message with this `data-seq` is `offset` pixels below the top again.
fn restore_visible(list: &web_sys::HtmlDivElement, seq: &str, offset: i32) {
    let selector = format!("[data-testid=message][data-seq=\"{seq}\"]");
    if let Some(e) = list
        .query_selector(&selector)
        .ok()
        .flatten()
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        list.set_scroll_top(e.offset_top() - offset);
    }
}

/// One message bubble with every attribute the tests read.
fn message_view(
    m: MessageView,
    group: Signal<bool>,
    highlight: RwSignal<Option<Seq>>,
) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let recalled = m.recalled;
    let content = m.content.clone();
    let created_at = m.created_at;
    let mine = m.mine;
    let message_id = m.id;
    let conversation_id = m.conversation_id;
    let cmid = m.client_msg_id.clone();
    let failed = m.failed.clone();
    // Addresses become anchors, everything else stays text (never HTML: linkify.rs).
    let content_view = move || match (&content, recalled) {
        (Some(text), false) => linkify::runs(text)
            .into_iter()
            .map(|run| match run {
                linkify::Run::Text(t) => t.into_any(),
                linkify::Run::Link(href) => {
                    let label = href.clone();
                    view! {
                        <a
                            class="message-link"
                            data-testid="message-link"
                            href=href
                            target="_blank"
                            rel="noopener noreferrer nofollow ugc"
                        >
                            {label}
                        </a>
                    }
                    .into_any()
                }
            })
            .collect_view()
            .into_any(),
        _ => i18n.t().recalled.into_any(),
    };
    let sender = (!mine).then(|| m.sender_name.clone());
    let can_recall = move || {
        mine && !recalled
            && message_id.is_some()
            && app.now.get() - created_at < app.recall_window_ms.get()
    };
    view! {
        <div
            class="message"
            class:mine=mine
            class:recalled=recalled
            class:pending=m.seq.is_none()
            data-testid="message"
            data-seq=m.seq.map(|s| s.to_string())
            data-message-id=m.id.map(|s| s.to_string())
            data-client-msg-id=m.client_msg_id.clone()
            data-mine=mine.to_string()
            data-status=status_str(m.status)
            data-recalled=recalled.to_string()
            data-waiting=m.waiting_for_network.then_some("network")
            data-highlight=move || (m.seq.is_some() && highlight.get() == m.seq).then_some("true")
        >
            <div class="bubble">
                {move || {
                    sender
                        .clone()
                        .filter(|_| group.get())
                        .map(|name| {
                            view! { <div class="message-sender" data-testid="message-sender">{name}</div> }
                        })
                }}
                <div class="message-content" data-testid="message-content">{content_view}</div>
                <div class="message-meta">
                    <time
                        class="message-time"
                        data-testid="message-time"
                        datetime=format::iso(created_at)
                        title=move || format::full(i18n.lang.get(), created_at)
                    >
                        {format::clock(created_at)}
                    </time>
                    {m.waiting_for_network.then(|| view! {
                        <span class="message-waiting" data-testid="message-waiting">
                            {move || i18n.t().waiting_for_network}
                        </span>
                    })}
                    {mine.then(|| view! { <StatusMark status=m.status failed=failed.is_some() /> })}
                </div>
            </div>
            {message_id.map(|id| {
                let seen_by = Signal::derive(move || mine && !recalled && group.get());
                view! {
                    <MessageMenu
                        message_id=id
                        conversation_id=conversation_id
                        can_recall=Signal::derive(can_recall)
                        seen_by=seen_by
                    />
                }
            })}
            // A failed message's choices stay in view: they are needed.
            {failed.map(|_| {
                let retry_id = cmid.clone();
                let discard_id = cmid.clone();
                view! {
                    <div class="message-actions">
                        <button type="button" class="link-button" on:click=move |_| app.retry(retry_id.clone())>
                            {move || i18n.t().retry}
                        </button>
                        <button type="button" class="link-button" on:click=move |_| app.discard(discard_id.clone())>
                            {move || i18n.t().discard}
                        </button>
                    </div>
                }
            })}
        </div>
    }
}
