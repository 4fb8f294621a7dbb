//! The actions on one of my messages, in a small menu over the bubble's edge: it takes no
//! layout space, shows on hover or focus (always, faintly, on touch screens), and asks before it
//! recalls. In a group it also opens "seen by" (receipts_sheet.rs). Once the recall window has
//! passed a direct conversation's message has nothing to offer, and the menu goes.

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::components::receipts_sheet::ReceiptsSheet;
use crate::i18n::use_i18n;
use crate::model::{ConversationId, MessageId};
use crate::state::use_app;

/// What the one open message menu shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuMode {
    Actions,
    ConfirmRecall,
    SeenBy,
}

/// The open menu of a message list, if any. It lives with the list, not the bubble, because a
/// bubble is rendered again when its status changes and an open "seen by" must survive that.
#[derive(Debug, Clone, Copy)]
pub struct OpenMenu(pub RwSignal<Option<(MessageId, MenuMode)>>);

impl OpenMenu {
    pub fn provide() {
        provide_context(OpenMenu(RwSignal::new(None)));
        provide_context(SeenByAnswer(RwSignal::new(None)));
    }
}

/// The last receipts answer of the open "seen by", kept with the list for the same reason.
#[derive(Debug, Clone, Copy)]
pub struct SeenByAnswer(pub RwSignal<Option<(MessageId, Vec<crate::model::MemberReceipt>)>>);

#[component]
pub fn MessageMenu(
    message_id: MessageId,
    conversation_id: ConversationId,
    #[prop(into)] can_recall: Signal<bool>,
    /// My message in a group: who has read it.
    #[prop(into)]
    seen_by: Signal<bool>,
) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let menu = use_context::<OpenMenu>()
        .unwrap_or_else(|| OpenMenu(RwSignal::new(None)))
        .0;
    let mode = move || menu.with(|m| m.filter(|(id, _)| *id == message_id).map(|(_, m)| m));
    let open = Signal::derive(move || mode().is_some());
    let confirming = Signal::derive(move || mode() == Some(MenuMode::ConfirmRecall));
    let sheet = Signal::derive(move || mode() == Some(MenuMode::SeenBy));
    let root = NodeRef::<html::Div>::new();
    // Keyboard focus follows what the menu shows (the control that showed it disappears), and
    // returns to the ⋯ button when it closes.
    let focus_after_render = move |selector: &'static str| {
        request_animation_frame(move || {
            let el = root
                .get_untracked()
                .and_then(|r| r.query_selector(selector).ok().flatten())
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
            if let Some(el) = el {
                let _ = el.focus();
            }
        });
    };
    let show = move |m: MenuMode| {
        menu.set(Some((message_id, m)));
        focus_after_render(match m {
            MenuMode::Actions => "[role=menuitem]",
            MenuMode::ConfirmRecall => "[data-testid=recall-confirm]",
            MenuMode::SeenBy => "[data-testid=receipts-close]",
        });
    };
    let close = move || {
        if menu.with_untracked(|m| m.is_some_and(|(id, _)| id == message_id)) {
            menu.set(None);
            focus_after_render("[data-testid=message-menu-button]");
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            close();
        }
    };
    view! {
        <Show when=move || can_recall.get() || seen_by.get()>
            <div class="message-menu" class:open=move || open.get() on:keydown=on_key node_ref=root>
                <button
                    type="button"
                    class="message-menu-button"
                    data-testid="message-menu-button"
                    aria-haspopup="menu"
                    aria-expanded=move || open.get().to_string()
                    aria-label=move || i18n.t().message_actions
                    title=move || i18n.t().message_actions
                    on:click=move |_| {
                        if open.get_untracked() { close() } else { show(MenuMode::Actions) }
                    }
                >
                    "⋯"
                </button>
                <Show when=move || open.get() && sheet.get()>
                    <ReceiptsSheet message_id=message_id conversation_id=conversation_id on_close=close />
                </Show>
                <Show when=move || open.get() && !sheet.get()>
                    <div class="message-menu-list" role="menu" data-testid="message-menu">
                        <Show
                            when=move || confirming.get()
                            fallback=move || {
                                view! {
                                    <Show when=move || seen_by.get()>
                                        <button
                                            type="button"
                                            role="menuitem"
                                            class="menu-item"
                                            data-testid="receipts-button"
                                            on:click=move |_| show(MenuMode::SeenBy)
                                        >
                                            {move || i18n.t().seen_by}
                                        </button>
                                    </Show>
                                    <Show when=move || can_recall.get()>
                                        <button
                                            type="button"
                                            role="menuitem"
                                            class="menu-item"
                                            data-testid="recall-button"
                                            on:click=move |_| show(MenuMode::ConfirmRecall)
                                        >
                                            {move || i18n.t().recall}
                                        </button>
                                    </Show>
                                }
                            }
                        >
                            <span class="menu-question" role="alert">
                                {move || i18n.t().recall_confirm}
                            </span>
                            <button
                                type="button"
                                class="menu-item danger"
                                data-testid="recall-confirm"
                                on:click=move |_| {
                                    close();
                                    app.recall(message_id);
                                }
                            >
                                {move || i18n.t().recall}
                            </button>
                            <button
                                type="button"
                                class="menu-item"
                                data-testid="recall-cancel"
                                on:click=move |_| close()
                            >
                                {move || i18n.t().cancel}
                            </button>
                        </Show>
                    </div>
                </Show>
            </div>
        </Show>
    }
}
