//! The status mark on my own messages: sending → sent → delivered → read.

use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::model::MessageStatus;

pub fn status_str(s: MessageStatus) -> &'static str {
    match s {
        MessageStatus::Sending => "sending",
        MessageStatus::Sent => "sent",
        MessageStatus::Delivered => "delivered",
        MessageStatus::Read => "read",
    }
}

#[component]
pub fn StatusMark(status: MessageStatus, #[prop(default = false)] failed: bool) -> impl IntoView {
    let i18n = use_i18n();
    let label = move || {
        let t = i18n.t();
        if failed {
            return t.send_failed;
        }
        match status {
            MessageStatus::Sending => t.status_sending,
            MessageStatus::Sent => t.status_sent,
            MessageStatus::Delivered => t.status_delivered,
            MessageStatus::Read => t.status_read,
        }
    };
    // One tick when committed, two when a device of the recipient has it, blue when read.
    let glyph = match (failed, status) {
        (true, _) => "!",
        (_, MessageStatus::Sending) => "◷",
        (_, MessageStatus::Sent) => "✓",
        (_, MessageStatus::Delivered) | (_, MessageStatus::Read) => "✓✓",
    };
    view! {
        <span
            class="status-mark"
            class:failed=failed
            data-testid="message-status"
            data-status=status_str(status)
            title=label
            aria-label=label
        >
            <span aria-hidden="true">{glyph}</span>
        </span>
    }
}
