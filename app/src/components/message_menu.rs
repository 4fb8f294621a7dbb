//! The actions on one of my messages, in a small menu over the bubble's edge: it takes no
//! layout space, shows on hover or focus (always, faintly, on touch screens), and asks before it
//! recalls. Once the recall window has passed there is nothing to offer, and the menu goes.

use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::model::MessageId;
use crate::state::use_app;

#[component]
pub fn MessageMenu(message_id: MessageId, #[prop(into)] can_recall: Signal<bool>) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let open = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let close = move || {
        open.set(false);
        confirming.set(false);
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            close();
        }
    };
    view! {
        <Show when=move || can_recall.get()>
            <div class="message-menu" class:open=move || open.get() on:keydown=on_key>
                <button
                    type="button"
                    class="message-menu-button"
                    data-testid="message-menu-button"
                    aria-haspopup="menu"
                    aria-expanded=move || open.get().to_string()
                    aria-label=move || i18n.t().message_actions
                    title=move || i18n.t().message_actions
                    on:click=move |_| {
                        if open.get_untracked() { close() } else { open.set(true) }
                    }
                >
                    "⋯"
                </button>
                <Show when=move || open.get()>
                    <div class="message-menu-list" role="menu" data-testid="message-menu">
                        <Show
                            when=move || confirming.get()
                            fallback=move || {
                                view! {
                                    <button
                                        type="button"
                                        role="menuitem"
                                        class="menu-item"
                                        data-testid="recall-button"
                                        on:click=move |_| confirming.set(true)
                                    >
                                        {move || i18n.t().recall}
                                    </button>
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
