//! The conversation list: title, preview, time, unread badge; newest activity first.

use leptos::prelude::*;

use crate::components::format;
use crate::i18n::use_i18n;
use crate::model::{ConversationId, ConversationKind};
use crate::state::use_app;

/// Everything one row shows; a changed row is re-rendered as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Row {
    id: ConversationId,
    title: String,
    group: bool,
    unread: i64,
    /// I muted it: its unread badge is grey (and it counts nowhere else: notify.rs).
    muted: bool,
    /// (sender name, mine, content or None when recalled)
    last: Option<(String, bool, Option<String>)>,
    time: i64,
}

#[component]
pub fn ConversationList() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let rows = Memo::new(move |_| {
        app.store.with(|s| {
            let me = s.me_id();
            s.conversation_list()
                .into_iter()
                .map(|c| Row {
                    id: c.info.id,
                    title: c.info.title.clone(),
                    group: c.info.kind == ConversationKind::Group,
                    unread: s.unread(c.info.id),
                    muted: c.info.muted,
                    last: c.info.last_message.as_ref().map(|m| {
                        (
                            m.sender_name.clone(),
                            Some(m.sender_id) == me,
                            m.content.clone(),
                        )
                    }),
                    time: c.info.updated_at,
                })
                .collect::<Vec<_>>()
        })
    });
    let active = Memo::new(move |_| app.store.with(|s| s.active));
    let loaded = Memo::new(move |_| app.store.with(|s| s.conversations_loaded));

    let row_view = move |r: Row| {
        let id = r.id;
        let preview = {
            let last = r.last.clone();
            let group = r.group;
            move || {
                let t = i18n.t();
                match &last {
                    None => String::new(),
                    Some((name, mine, content)) => {
                        let text = content.clone().unwrap_or_else(|| t.recalled.to_string());
                        if *mine {
                            format!("{}: {text}", t.you)
                        } else if group {
                            format!("{name}: {text}")
                        } else {
                            text
                        }
                    }
                }
            }
        };
        let time = r.time;
        let time_text = move || {
            let lang = i18n.lang.get();
            format::list_time(lang, lang.strings(), time, app.now.get())
        };
        let unread = r.unread;
        let muted = r.muted;
        let initial: String = r
            .title
            .chars()
            .next()
            .map(|c| c.to_uppercase().collect())
            .unwrap_or_default();
        view! {
            <li
                class="conversation-item"
                class:active=move || active.get() == Some(id)
                class:has-unread={unread > 0}
                data-testid="conversation-item"
                data-conversation-id=id.to_string()
                data-title=r.title.clone()
                data-unread=unread.to_string()
                data-muted=muted.to_string()
                class:muted=muted
            >
                // A real link (to /c/{id}): focusable, opens with Enter, and can be opened in a
                // new tab; a plain click switches in place.
                <a
                    class="conversation-link"
                    href=format!("/c/{id}")
                    aria-current=move || (active.get() == Some(id)).then_some("page")
                    on:click=move |ev: leptos::ev::MouseEvent| {
                        if ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.button() != 0 {
                            return;
                        }
                        ev.prevent_default();
                        app.open_conversation(Some(id));
                    }
                >
                <span class="avatar" class:group=r.group aria-hidden="true">{initial}</span>
                <span class="conversation-main">
                    <span class="conversation-top">
                        <span class="conversation-title" data-testid="conversation-title">
                            {r.title.clone()}
                        </span>
                        <time class="conversation-time" data-testid="conversation-time" datetime=format::iso(time)>
                            {time_text}
                        </time>
                    </span>
                    <span class="conversation-bottom">
                        <span class="conversation-preview" data-testid="conversation-preview">
                            {preview}
                        </span>
                        {(unread > 0).then(|| view! {
                            <span
                                class="unread-badge"
                                class:muted=muted
                                data-testid="unread-badge"
                                aria-label=unread.to_string()
                                title=move || muted.then(|| i18n.t().muted_label)
                            >
                                {unread.to_string()}
                            </span>
                        })}
                    </span>
                </span>
                </a>
            </li>
        }
    };

    view! {
        <nav class="conversations" aria-label=move || i18n.t().conversations>
            <ul class="conversation-list" data-testid="conversation-list">
                <For each=move || rows.get() key=|r| r.clone() children=row_view />
            </ul>
            <Show when=move || loaded.get() && rows.with(|r| r.is_empty())>
                <p class="empty-hint">{move || i18n.t().no_conversations}</p>
            </Show>
        </nav>
    }
}
