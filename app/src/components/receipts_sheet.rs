//! "Seen by": who of a group has read one of my messages, who has it on a device, and who does not
//! yet (`GET /api/messages/{id}/receipts`). It stays current while open: it asks again when the
//! message's status or a member's read position changes, and every few seconds besides (one
//! member's delivery changes no aggregate status while another is still offline).

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::message_menu::SeenByAnswer;
use crate::i18n::use_i18n;
use crate::model::{ConversationId, MemberReceipt, MessageId};
use crate::state::use_app;

/// How often an open sheet asks again when nothing it can see has changed.
const REFRESH: Duration = Duration::from_secs(4);

#[component]
pub fn ReceiptsSheet(
    message_id: MessageId,
    conversation_id: ConversationId,
    on_close: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let answer = use_context::<SeenByAnswer>()
        .unwrap_or_else(|| SeenByAnswer(RwSignal::new(None)))
        .0;
    let receipts = Signal::derive(move || {
        answer.with(|a| {
            a.as_ref()
                .filter(|(id, _)| *id == message_id)
                .map(|(_, r)| r.clone())
        })
    });
    let error = RwSignal::new(false);
    let alive = StoredValue::new(true);
    on_cleanup(move || alive.set_value(false));

    let fetch = move || {
        spawn_local(async move {
            match api::receipts(message_id).await {
                Ok(r) if alive.try_get_value().unwrap_or(false) => {
                    error.set(false);
                    answer.try_set(Some((message_id, r.members)));
                }
                Ok(_) => {}
                Err(_) if alive.try_get_value().unwrap_or(false) => error.set(true),
                Err(_) => {}
            }
        });
    };
    // (`alive` is read with `try_`: after the sheet is gone the value itself is, too.)
    // What the store knows that can change the answer: the message's status and the members'
    // read positions.
    let trigger = Memo::new(move |_| {
        app.store.with(|s| {
            let status = s
                .timelines
                .get(&conversation_id)
                .and_then(|t| t.messages.values().find(|m| m.id == message_id))
                .map(|m| m.status);
            let positions: Vec<_> = s
                .conversations
                .get(&conversation_id)
                .map(|c| {
                    c.info
                        .members
                        .iter()
                        .map(|m| (m.user_id, m.read_seq, m.delivered_seq))
                        .collect()
                })
                .unwrap_or_default();
            (status, positions)
        })
    });
    Effect::new(move |_| {
        trigger.track();
        fetch();
    });
    spawn_local(async move {
        loop {
            gloo_timers::future::sleep(REFRESH).await;
            if !alive.try_get_value().unwrap_or(false) {
                break;
            }
            fetch();
        }
    });

    // Shown again after the bubble re-rendered (a status change): focus was on the old
    // sheet's button, now gone, so take it back rather than leave it on the page body.
    let close_ref = NodeRef::<leptos::html::Button>::new();
    request_animation_frame(move || {
        let lost = document()
            .active_element()
            .is_none_or(|e| e.tag_name().eq_ignore_ascii_case("body"));
        if lost {
            if let Some(b) = close_ref.get_untracked() {
                let _ = b.focus();
            }
        }
    });
    let row = move |r: MemberReceipt| {
        let (label, class) = if r.read {
            (i18n.t().status_read, "receipt-read")
        } else if r.delivered {
            (i18n.t().status_delivered, "receipt-delivered")
        } else {
            (i18n.t().receipt_not_delivered, "receipt-pending")
        };
        view! {
            <li
                class="receipt-row"
                data-testid="receipt-row"
                data-user-id=r.user_id.to_string()
                data-read=r.read.to_string()
                data-delivered=r.delivered.to_string()
            >
                <span class="receipt-name">{r.display_name}</span>
                <span class=format!("receipt-state {class}")>{label}</span>
            </li>
        }
    };
    view! {
        <div
            class="receipts-sheet"
            data-testid="receipts-sheet"
            role="dialog"
            aria-label=move || i18n.t().seen_by
        >
            <div class="receipts-head">
                <strong>{move || i18n.t().seen_by}</strong>
                <span class="receipts-summary" data-testid="receipts-summary">
                    {move || {
                        receipts
                            .with(|r| {
                                r.as_ref()
                                    .map(|r| {
                                        let read = r.iter().filter(|m| m.read).count();
                                        format!("{read}/{} {}", r.len(), i18n.t().status_read)
                                    })
                            })
                    }}
                </span>
                <button
                    type="button"
                    class="icon-button"
                    data-testid="receipts-close"
                    node_ref=close_ref
                    aria-label=move || i18n.t().close
                    on:click=move |_| on_close()
                >
                    "×"
                </button>
            </div>
            {move || error.get().then(|| view! { <p class="form-error" role="alert">{i18n.t().receipts_failed}</p> })}
            <ul class="receipts-list">
                {move || receipts.get().unwrap_or_default().into_iter().map(row).collect_view()}
            </ul>
        </div>
    }
}
