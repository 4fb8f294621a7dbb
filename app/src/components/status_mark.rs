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
    // Shapes, not only colours, tell them apart (at full opacity): a clock while sending, one
    // tick when committed, two ticks when a device of the recipient has it, two ticks on a
    // filled disc when read.
    let (glyph, shape) = match (failed, status) {
        (true, _) => ("!", "alert"),
        (_, MessageStatus::Sending) => ("◷", "clock"),
        (_, MessageStatus::Sent) => ("✓", "tick"),
        (_, MessageStatus::Delivered) => ("✓✓", "ticks"),
        (_, MessageStatus::Read) => ("✓✓", "ticks-filled"),
    };
    view! {
        <span
            class="status-mark"
            class:failed=failed
            data-testid="message-status"
            data-status=status_str(status)
            data-shape=shape
            role="img"
            title=label
            aria-label=label
        >
            <span aria-hidden="true">{glyph}</span>
        </span>
    }
}

/// The accessible name of a status, for the live announcement of my newest message's status.
pub fn status_label(t: &crate::i18n::Strings, s: MessageStatus) -> &'static str {
    match s {
        MessageStatus::Sending => t.status_sending,
        MessageStatus::Sent => t.status_sent,
        MessageStatus::Delivered => t.status_delivered,
        MessageStatus::Read => t.status_read,
    }
}
