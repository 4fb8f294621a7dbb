//! Desktop notifications, the unread badge on the tab (title and icon), and per-conversation mute.
//!
//! - The browser is asked for permission only from a click: the `notify-prompt` bar appears once
//!   the user has sent a message in this tab ("Turn on" / "Not now"), never on load. The answer
//!   is kept in localStorage (`courier.notify`: `on` or `off`), so the bar does not come back.
//! - Whether a live message notifies is the pure rule of `store::notify_rule` (not mine, not
//!   muted, not on screen, one per burst). Of a user's tabs, only the one holding the outbox lease
//!   (`persist::hold_lease`) notifies; the tag `courier-c{id}` lets the system keep one per
//!   conversation anyway. A click focuses the tab and opens the conversation.
//! - The icon (`link[rel=icon]`) becomes an SVG data URL with the count (the CSP allows `data:`
//!   images), and Trunk's `integrity` attribute is dropped from it.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::api;
use crate::i18n::{use_i18n, I18n};
use crate::model::{ConversationId, ConversationKind, Message};
use crate::persist;
use crate::state::{use_app, AppState};
use crate::store::notify_rule::{should_notify, Arrival, Bursts};

const CHOICE_KEY: &str = "courier.notify";
/// The longest notification body (characters).
const BODY_MAX: usize = 140;

/// Goes to a path inside the app.
type Navigate = Rc<dyn Fn(&str)>;

thread_local! {
    static BURSTS: RefCell<Bursts> = RefCell::new(Bursts::default());
    /// The router's navigation (set by [`NotifyHost`] while the chat is mounted).
    static NAVIGATE: RefCell<Option<Navigate>> = const { RefCell::new(None) };
    /// The icon Trunk put in the page, for when nothing is unread.
    static PLAIN_ICON: RefCell<Option<String>> = const { RefCell::new(None) };
    /// The user has sent a message in this tab (the moment to offer notifications).
    static SENT: RwSignal<bool> = RwSignal::new(false);
    /// The stored answer to the bar: `Some(true)` on, `Some(false)` not now.
    static CHOICE: RwSignal<Option<bool>> = RwSignal::new(stored_choice());
}

fn storage() -> Option<web_sys::Storage> {
    crate::persist::local_storage()
}

/// A new session starts with no notification bursts remembered.
pub fn forget_bursts() {
    BURSTS.with(|b| *b.borrow_mut() = Bursts::default());
}

fn stored_choice() -> Option<bool> {
    match storage()?.get_item(CHOICE_KEY).ok().flatten()?.as_str() {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

fn set_choice(on: bool) {
    if let Some(s) = storage() {
        let _ = s.set_item(CHOICE_KEY, if on { "on" } else { "off" });
    }
    CHOICE.with(|c| c.set(Some(on)));
}

/// This browser has the Notification API (not every one does: older iOS Safari, some webviews).
fn supported() -> bool {
    web_sys::window().is_some_and(|w| {
        js_sys::Reflect::has(&w, &JsValue::from_str("Notification")).unwrap_or(false)
    })
}

fn permission() -> web_sys::NotificationPermission {
    web_sys::Notification::permission()
}

/// The user turned notifications on here and the browser allows them.
fn enabled() -> bool {
    supported()
        && CHOICE.with(|c| c.get_untracked()) == Some(true)
        && permission() == web_sys::NotificationPermission::Granted
}

/// The user sent a message (`AppState::send`): the bar may now offer notifications.
pub fn sent() {
    SENT.with(|s| {
        if !s.get_untracked() {
            s.set(true);
        }
    });
}

/// The user is looking at this tab: visible and focused.
fn attentive() -> bool {
    let doc = document();
    doc.visibility_state() == web_sys::VisibilityState::Visible && doc.has_focus().unwrap_or(true)
}

/// A live message arrived (after the store took it): notify if the rule says so.
pub fn on_message(app: &AppState, m: &Message) {
    if !enabled() {
        return;
    }
    let Some(content) = m.content.clone() else {
        return; // recalled
    };
    let Some((me, open, conv)) = app.store.with_untracked(|s| {
        let c = s.conversations.get(&m.conversation_id)?;
        Some((
            s.me_id()?,
            s.active,
            (c.info.muted, c.info.kind, c.info.title.clone()),
        ))
    }) else {
        return; // not in the list yet: whether it is muted is unknown
    };
    let (muted, kind, title) = conv;
    let now = js_sys::Date::now() as i64;
    let arrival = Arrival {
        conversation_id: m.conversation_id,
        sender_id: m.sender_id,
        me,
        muted,
        attentive: attentive(),
        open,
        now,
    };
    // The rule alone first (mine, muted, on screen): such a message needs no lease.
    if !should_notify(&arrival, None) {
        return;
    }
    // One tab of the user notifies: the one that sends the outbox (or takes the lease, if free).
    if !persist::hold_lease(me, now, false) {
        return;
    }
    if !BURSTS.with(|b| b.borrow_mut().decide(&arrival)) {
        return;
    }
    let text: String = content.chars().take(BODY_MAX).collect();
    let (heading, body) = match kind {
        ConversationKind::Direct => (m.sender_name.clone(), text),
        ConversationKind::Group => (title, format!("{}: {text}", m.sender_name)),
    };
    show(app, m.conversation_id, &heading, &body);
}

fn show(app: &AppState, id: ConversationId, title: &str, body: &str) {
    let opts = web_sys::NotificationOptions::new();
    opts.set_body(body);
    opts.set_tag(&format!("courier-c{id}"));
    if let Some(icon) = PLAIN_ICON
        .with(|i| i.borrow().clone())
        .or_else(plain_icon_now)
    {
        opts.set_icon(&icon);
    }
    let Ok(n) = web_sys::Notification::new_with_options(title, &opts) else {
        return;
    };
    let app = *app;
    let shown = n.clone();
    let click = Closure::once_into_js(move || {
        if let Some(w) = web_sys::window() {
            let _ = w.focus();
        }
        open_conversation(&app, id);
        shown.close();
    });
    n.set_onclick(Some(click.unchecked_ref()));
}

fn open_conversation(app: &AppState, id: ConversationId) {
    let path = format!("/c/{id}");
    match NAVIGATE.with(|n| n.borrow().clone()) {
        Some(go) => go(&path),
        // The chat is not mounted (another page): load it there.
        None => match web_sys::window() {
            Some(w) => {
                let _ = w.location().assign(&path);
            }
            None => app.open_conversation(Some(id)),
        },
    }
}

/// The icon link Trunk wrote into `index.html`.
fn icon_link() -> Option<web_sys::HtmlLinkElement> {
    document()
        .query_selector("link[rel~='icon']")
        .ok()
        .flatten()?
        .dyn_into()
        .ok()
}

fn plain_icon_now() -> Option<String> {
    icon_link()?.get_attribute("href")
}

/// The icon with a red count in its corner.
fn badge_svg(n: i64) -> String {
    let label = if n > 99 {
        "99+".to_string()
    } else {
        n.to_string()
    };
    let size = match label.len() {
        1 => 30,
        2 => 26,
        _ => 20,
    };
    format!(
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 64 64'>\
         <rect width='64' height='64' rx='14' fill='#2563eb'/>\
         <path d='M14 20h36a4 4 0 0 1 4 4v16a4 4 0 0 1-4 4H30l-10 8v-8h-6a4 4 0 0 1-4-4V24a4 4 0 0 1 4-4z' fill='#fff'/>\
         <circle cx='44' cy='20' r='20' fill='#dc2626'/>\
         <text x='44' y='{y}' font-family='Arial,Helvetica,sans-serif' font-size='{size}' font-weight='700' \
         text-anchor='middle' fill='#fff'>{label}</text></svg>",
        y = 20 + size * 7 / 20,
    )
}

/// Shows `n` unread messages (of conversations not muted) in the tab's title and icon.
pub fn show_badge(n: i64) {
    document().set_title(&if n > 0 {
        format!("({n}) Courier")
    } else {
        "Courier".into()
    });
    let Some(link) = icon_link() else { return };
    let plain = PLAIN_ICON.with(|p| {
        p.borrow_mut()
            .get_or_insert_with(|| link.get_attribute("href").unwrap_or_default())
            .clone()
    });
    // Subresource integrity would not match the generated icon.
    let _ = link.remove_attribute("integrity");
    let href = if n > 0 {
        format!(
            "data:image/svg+xml,{}",
            String::from(js_sys::encode_uri_component(&badge_svg(n)))
        )
    } else {
        plain
    };
    if link.get_attribute("href").as_deref() != Some(href.as_str()) {
        link.set_href(&href);
    }
}

/// Mutes or unmutes a conversation for me; every tab of mine follows (`conversation` frame).
pub fn set_muted(app: AppState, i18n: I18n, id: ConversationId, muted: bool) {
    spawn_local(async move {
        match api::set_muted(id, muted).await {
            Ok(c) => app.note_conversation(c),
            Err(e) => app.failed(i18n.lang.get_untracked().strings().mute_failed, &e),
        }
    });
}

/// Mounted with the chat: the `notify-prompt` bar, the router's navigation for clicks on a
/// notification, and "the user looked at the open conversation" for the burst rule.
#[component]
pub fn NotifyHost() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let navigate = use_navigate();
    NAVIGATE.with(|n| {
        *n.borrow_mut() = Some(Rc::new(move |path: &str| {
            navigate(path, NavigateOptions::default())
        }))
    });
    let focused = RwSignal::new(document().has_focus().unwrap_or(true));
    let on_focus = window_event_listener(leptos::ev::focus, move |_| focused.set(true));
    let on_blur = window_event_listener(leptos::ev::blur, move |_| focused.set(false));
    on_cleanup(move || {
        on_focus.remove();
        on_blur.remove();
        NAVIGATE.with(|n| *n.borrow_mut() = None);
    });
    // The open conversation in a visible, focused tab has been looked at: its burst is over.
    Effect::new(move |_| {
        let active = app.store.with(|s| s.active);
        if app.visible.get() && focused.get() && attentive() {
            if let Some(id) = active {
                BURSTS.with(|b| b.borrow_mut().viewed(id));
            }
        }
    });
    let sent = SENT.with(|s| *s);
    let choice = CHOICE.with(|c| *c);
    let show = Memo::new(move |_| {
        sent.get()
            && choice.get().is_none()
            && supported()
            && permission() != web_sys::NotificationPermission::Denied
    });
    let enable = move |_| {
        // Asked from the click itself (browsers want a user gesture).
        match web_sys::Notification::request_permission() {
            Ok(promise) => spawn_local(async move {
                let answer = wasm_bindgen_futures::JsFuture::from(promise).await;
                let granted = answer.ok().and_then(|v| v.as_string()).as_deref() == Some("granted");
                set_choice(granted);
            }),
            Err(_) => set_choice(false),
        }
    };
    view! {
        <Show when=move || show.get()>
            <div
                class="notify-prompt"
                data-testid="notify-prompt"
                role="region"
                aria-live="polite"
                aria-labelledby="notify-prompt-text"
            >
                <BellIcon class="notify-prompt-icon" size=20 slash=false />
                <span class="notify-prompt-text" id="notify-prompt-text" data-testid="notify-prompt-text">
                    {move || i18n.t().notify_prompt}
                </span>
                <div class="notify-prompt-actions">
                    <button type="button" class="primary-button" data-testid="notify-enable" on:click=enable>
                        {move || i18n.t().notify_enable}
                    </button>
                    <button
                        type="button"
                        class="secondary-button"
                        data-testid="notify-dismiss"
                        on:click=move |_| set_choice(false)
                    >
                        {move || i18n.t().notify_dismiss}
                    </button>
                </div>
            </div>
        </Show>
    }
}

/// `mute-toggle` in the pane header: `aria-pressed` says whether the conversation is muted.
#[component]
pub fn MuteToggle(id: ConversationId) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let muted = Memo::new(move |_| {
        app.store
            .with(|s| s.conversations.get(&id).is_some_and(|c| c.info.muted))
    });
    // A toggle keeps its name ("Mute"); `aria-pressed` says whether it is on.
    let hint = move || {
        let t = i18n.t();
        if muted.get() {
            t.unmute
        } else {
            t.mute
        }
    };
    view! {
        <button
            type="button"
            class="secondary-button mute-toggle"
            class:muted=move || muted.get()
            data-testid="mute-toggle"
            aria-pressed=move || muted.get().to_string()
            aria-label=move || i18n.t().mute
            title=hint
            on:click=move |_| set_muted(app, i18n, id, !muted.get_untracked())
        >
            <BellIcon class="mute-icon" size=16 slash=true />
            <span class="mute-label">{move || i18n.t().mute}</span>
        </button>
    }
}

/// The bell of the notification banner and the mute toggle (decorative: the text beside it or
/// the button's name says what it means). `slash` adds the stroke the stylesheet shows when muted.
#[component]
fn BellIcon(class: &'static str, size: u32, slash: bool) -> impl IntoView {
    view! {
        <svg
            class=class
            viewBox="0 0 24 24"
            width=size
            height=size
            aria-hidden="true"
            fill="none"
            stroke="currentColor"
            stroke-width="2"
            stroke-linecap="round"
            stroke-linejoin="round"
        >
            <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
            <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
            {slash.then(|| view! { <path class="mute-slash" d="M3 3l18 18" /> })}
        </svg>
    }
}
