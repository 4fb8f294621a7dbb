//! The composer: Enter sends, Shift+Enter adds a line; drafts survive switching conversations.

use leptos::html;
use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::model::{ConversationId, MAX_CONTENT_CHARS};
use crate::persist;
use crate::state::use_app;
use crate::validate::{self, Rule};

const MAX_ROWS: usize = 6;

#[component]
pub fn Composer(id: ConversationId, stick: StoredValue<bool>) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let input_ref = NodeRef::<html::Textarea>::new();
    // Drafts are kept per conversation in localStorage (persist.rs): switching conversations,
    // reloading or closing the tab keeps what was typed.
    let me = app.store.with_untracked(|s| s.me_id());
    let text = RwSignal::new(me.map(|u| persist::draft(u, id)).unwrap_or_default());
    Effect::new(move |_| {
        let t = text.get();
        if let Some(u) = me {
            persist::set_draft(u, id, &t);
        }
    });
    Effect::new(move |_| {
        if let Some(el) = input_ref.get() {
            let _ = el.focus();
        }
    });

    // The server's own rule (validate.rs), on what would be sent.
    let check = move || text.with(|t| validate::message_content(t.trim()));
    let too_long = move || check() == Err(Rule::Length);
    let can_send = move || check().is_ok();
    let rows = move || {
        text.with(|t| t.lines().count().clamp(1, MAX_ROWS))
            .to_string()
    };

    let submit = move || {
        if !can_send() {
            return;
        }
        let content = text.get_untracked().trim().to_string();
        text.set(String::new());
        stick.set_value(true);
        app.send(id, content);
        if let Some(el) = input_ref.get_untracked() {
            let _ = el.focus();
        }
    };

    view! {
        <form
            class="composer"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                submit();
            }
        >
            <textarea
                class="composer-input"
                data-testid="composer-input"
                node_ref=input_ref
                rows=rows
                placeholder=move || i18n.t().composer_placeholder
                aria-label=move || i18n.t().composer_hint
                aria-invalid=move || too_long().then_some("true")
                aria-describedby=move || too_long().then_some("composer-error")
                title=move || i18n.t().composer_hint
                prop:value=move || text.get()
                on:input=move |ev| {
                    text.set(event_target_value(&ev));
                    app.typing(id);
                }
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    // Enter sends; Shift+Enter (and Enter while an IME composes) inserts a line.
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        submit();
                    }
                }
            ></textarea>
            <button type="submit" class="primary-button send-button" data-testid="send-button" disabled=move || !can_send()>
                {move || i18n.t().send}
            </button>
            <Show when=too_long>
                <p class="form-error composer-error" id="composer-error" data-testid="composer-error" role="alert">
                    {move || i18n.t().too_long}
                    {move || format!(" ({}/{MAX_CONTENT_CHARS})", text.with(|t| t.chars().count()))}
                </p>
            </Show>
        </form>
    }
}
