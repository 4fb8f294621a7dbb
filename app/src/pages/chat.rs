//! `/`: the chat — conversation list on the left, the open conversation on the right
//! (one or the other at phone width).

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::NavigateOptions;

use crate::components::composer::Composer;
use crate::components::conversation_list::ConversationList;
use crate::components::group_form::GroupForm;
use crate::components::message_list::MessageList;
use crate::components::message_search::MessageSearch;
use crate::components::user_search::UserSearch;
use crate::components::{ConnBadge, LangSwitch, Notice, ReconnectBanner};
use crate::i18n::use_i18n;
use crate::model::{ConversationId, ConversationKind, Seq};
use crate::notify::{MuteToggle, NotifyHost};
use crate::state::use_app;
use crate::store::Phase;

#[component]
pub fn ChatPage() -> impl IntoView {
    let app = use_app();
    let navigate = use_navigate();
    let location = use_location();
    // Logged out: to the login page. A visit without a session (a link to `/c/{id}`) comes back
    // here after logging in (`?next=`); a logout or an expired session here starts afresh.
    Effect::new(move |was_logged_in: Option<bool>| {
        let phase = app.phase.get();
        if phase == Phase::LoggedOut {
            let here = format!(
                "{}{}",
                location.pathname.get_untracked(),
                location.search.get_untracked()
            );
            let next = (was_logged_in != Some(true) && here != "/").then_some(here);
            let to = crate::pages::with_next("/login", next);
            navigate(
                &to,
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
        phase == Phase::LoggedIn
    });
    // Leaving the chat closes the conversation: nothing is "read" while it is not shown.
    on_cleanup(move || app.open_conversation(None));
    follow_the_url(app);
    let logged_in = Memo::new(move |_| app.phase.get() == Phase::LoggedIn);
    view! {
        <Show when=move || logged_in.get() fallback=|| view! { <div class="boot" aria-busy="true"></div> }>
            <ChatShell />
        </Show>
    }
}

/// The conversation in the URL (`/c/{id}`) is the open one, and the other way round: a reload or
/// a link opens it, opening one from the list puts it in the browser's history, and the phone's
/// Back returns to the list instead of leaving the app.
fn follow_the_url(app: crate::state::AppState) {
    let location = use_location();
    let navigate = use_navigate();
    let from_path = |path: &str| {
        path.strip_prefix("/c/")
            .and_then(|s| s.trim_end_matches('/').parse::<ConversationId>().ok())
    };
    // Opened at /c/{id} directly (a link, a reload): put the list under it in the history, so
    // Back leads there rather than out of the app.
    if let Some(id) = from_path(&location.pathname.get_untracked()) {
        if let Ok(h) = window().history() {
            let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("/"));
            // `?m={seq}` (a search hit) stays: the conversation opens at that message.
            let here = format!("/c/{id}{}", location.search.get_untracked());
            let _ = h.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&here));
        }
    }
    // URL → open conversation (Back, Forward, links); `?m={seq}` opens it at that message.
    Effect::new(move |_| {
        let id = from_path(&location.pathname.get());
        // A seq is ≥ 1; an absurd one is ignored rather than overflowing the page arithmetic.
        let at = location.query.with(|q| {
            q.get("m")
                .and_then(|m| m.parse::<Seq>().ok())
                .filter(|s| (1..=Seq::MAX / 2).contains(s))
        });
        if app.phase.get() == Phase::LoggedIn {
            match (id, at) {
                (Some(id), Some(seq)) => app.jump_to(id, seq),
                _ => app.open_conversation(id),
            }
        }
    });
    // Open conversation → URL (the list, a new conversation, leaving a group): on a change of
    // the open conversation only — not when the session arrives, when the URL has the say.
    Effect::new(move |prev: Option<Option<ConversationId>>| {
        let active = app.store.with(|s| s.active);
        let changed = prev.is_some_and(|p| p != active);
        let logged_in = app.phase.with_untracked(|p| *p == Phase::LoggedIn);
        let path = location.pathname.get_untracked();
        if changed && logged_in && from_path(&path) != active {
            let want = active
                .map(|id| format!("/c/{id}"))
                .unwrap_or_else(|| "/".into());
            navigate(
                &want,
                NavigateOptions {
                    // Switching between conversations replaces; opening one from the list adds.
                    replace: from_path(&path).is_some() && active.is_some(),
                    ..Default::default()
                },
            );
        }
        active
    });
}

#[component]
fn ChatShell() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let me = Memo::new(move |_| {
        app.me
            .with(|u| u.as_ref().map(|u| u.display_name.clone()))
            .unwrap_or_default()
    });
    let active = Memo::new(move |_| app.store.with(|s| s.active));
    // While a message search has a query, its hits take the list's place.
    let search = RwSignal::new(String::new());
    view! {
        <div class="chat-shell" data-testid="chat-shell" class:pane-open=move || active.get().is_some()>
            <ReconnectBanner />
            <Notice />
            <NotifyHost />
            // The whole chat is the page's main landmark (on a phone the conversation pane is
            // hidden while the list shows, and the main content must not vanish with it).
            <main class="chat-columns">
                // The page's one level-one heading, for screen readers' heading navigation.
                <h1 class="visually-hidden">"Courier"</h1>
                <aside class="sidebar">
                    <header class="sidebar-head">
                        <div class="me">
                            <span class="current-user" data-testid="current-user">{move || me.get()}</span>
                            <ConnBadge />
                        </div>
                        <div class="head-actions">
                            // /message-test is a tool for the server's operators only.
                            <Show when=move || app.operator.get() == Some(true)>
                                <a class="link-button" href="/message-test" data-testid="message-test-link">
                                    {move || i18n.t().message_test}
                                </a>
                            </Show>
                            <LangSwitch />
                            <button
                                type="button"
                                class="secondary-button"
                                data-testid="logout-button"
                                on:click=move |_| app.logout()
                            >
                                {move || i18n.t().logout}
                            </button>
                        </div>
                    </header>
                    <UserSearch />
                    <GroupForm />
                    <MessageSearch query=search />
                    <Show when=move || search.with(|q| q.trim().is_empty())>
                        <ConversationList />
                    </Show>
                </aside>
                <div class="pane">
                    {move || match active.get() {
                        Some(id) => view! { <MessagePane id=id /> }.into_any(),
                        None => {
                            view! { <div class="pane-empty">{move || i18n.t().pick_conversation}</div> }.into_any()
                        }
                    }}
                </div>
            </main>
        </div>
    }
}

/// The open conversation: header, messages, composer.
#[component]
fn MessagePane(id: ConversationId) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let info = Memo::new(move |_| {
        app.store.with(|s| {
            s.conversations.get(&id).map(|c| {
                (
                    c.info.title.clone(),
                    c.info.kind == ConversationKind::Group,
                    c.info.members.len(),
                )
            })
        })
    });
    let group = Signal::derive(move || info.with(|i| i.as_ref().is_some_and(|(_, g, _)| *g)));
    let typing = Memo::new(move |_| {
        let now = app.now.get();
        app.store.with(|s| {
            s.typing_in(id, now)
                .into_iter()
                .filter_map(|u| s.member_name(id, u))
                .collect::<Vec<_>>()
        })
    });
    let subtitle = move || {
        let t = i18n.t();
        let names = typing.get();
        if !names.is_empty() {
            return format!("{} {}", names.join(", "), t.typing);
        }
        match info.get() {
            Some((_, true, n)) => format!("{n} {}", t.members_count),
            _ => String::new(),
        }
    };
    let stick = StoredValue::new(true);
    view! {
        <section
            class="message-pane"
            data-testid="message-pane"
            data-conversation-id=id.to_string()
            aria-label=move || info.get().map(|(t, _, _)| t).unwrap_or_default()
        >
            <header class="pane-head">
                <button
                    type="button"
                    class="icon-button back-button"
                    aria-label=move || i18n.t().back
                    on:click=move |_| close_pane(app)
                >
                    "‹"
                </button>
                <div class="pane-title">
                    <h2>{move || info.get().map(|(t, _, _)| t).unwrap_or_default()}</h2>
                    <span class="pane-subtitle" aria-live="polite">{subtitle}</span>
                </div>
                <MuteToggle id=id />
                <Show when=move || group.get()>
                    <LeaveGroup id=id />
                </Show>
            </header>
            <MessageList id=id group=group stick=stick />
            <Composer id=id stick=stick />
        </section>
    }
}

/// The pane's back chevron: like the browser's Back when the list is the previous page (it is
/// whenever the conversation was opened from it, or by a link: see `follow_the_url`), so the
/// history stays as the user walked it.
fn close_pane(app: crate::state::AppState) {
    let back = window()
        .history()
        .ok()
        .filter(|h| h.length().unwrap_or(0) > 1);
    match back {
        Some(h) => {
            let _ = h.back();
        }
        None => app.open_conversation(None),
    }
}

/// "Leave group", with an inline confirmation (no browser dialog). Once the server agrees the
/// group disappears from every tab (`conversation_left`), and the pane closes.
#[component]
fn LeaveGroup(id: ConversationId) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let confirming = RwSignal::new(false);
    view! {
        <div class="leave-group">
            <Show
                when=move || confirming.get()
                fallback=move || {
                    view! {
                        <button
                            type="button"
                            class="secondary-button"
                            data-testid="leave-group"
                            on:click=move |_| confirming.set(true)
                        >
                            {move || i18n.t().leave_group}
                        </button>
                    }
                }
            >
                <span class="leave-confirm-text" role="alert">{move || i18n.t().leave_group_confirm}</span>
                <button
                    type="button"
                    class="secondary-button danger-button"
                    data-testid="leave-group-confirm"
                    on:click=move |_| {
                        confirming.set(false);
                        app.leave_group(id);
                    }
                >
                    {move || i18n.t().leave}
                </button>
                <button
                    type="button"
                    class="secondary-button"
                    data-testid="leave-group-cancel"
                    on:click=move |_| confirming.set(false)
                >
                    {move || i18n.t().cancel}
                </button>
            </Show>
        </div>
    }
}
