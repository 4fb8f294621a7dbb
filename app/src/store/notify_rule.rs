//! When a message deserves a desktop notification, and what the tab's badge counts. Pure, so it
//! is host-tested; `notify.rs` does the browser side (permission, `Notification`, the favicon).

use std::collections::HashMap;

use super::ClientState;
use crate::model::{ConversationId, UserId};

/// After a notification, the same conversation stays quiet this long unless the user looks at it
/// in between: a burst of messages gives one notification.
pub const BURST_MS: i64 = 60_000;

/// A live message as this tab sees it when it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    pub me: UserId,
    /// I muted the conversation.
    pub muted: bool,
    /// The tab is visible and has the focus: the user is looking at it.
    pub attentive: bool,
    /// The conversation open in this tab.
    pub open: Option<ConversationId>,
    /// Local ms.
    pub now: i64,
}

/// The last notification of each conversation that the user has not looked at since.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bursts {
    notified: HashMap<ConversationId, i64>,
}

impl Bursts {
    /// The user looked at the conversation (open in a visible, focused tab): the burst is over.
    pub fn viewed(&mut self, id: ConversationId) {
        self.notified.remove(&id);
    }

    /// Whether `a` should notify; if so it starts (or restarts) the conversation's burst.
    pub fn decide(&mut self, a: &Arrival) -> bool {
        if a.attentive && a.open == Some(a.conversation_id) {
            // On screen right now: that is a look at it.
            self.viewed(a.conversation_id);
            return false;
        }
        let yes = should_notify(a, self.notified.get(&a.conversation_id).copied());
        if yes {
            self.notified.insert(a.conversation_id, a.now);
        }
        yes
    }
}

/// The rule: never for my own messages or a muted conversation; only when the user is not
/// looking at that conversation (the tab is hidden or unfocused, or another one is open); and
/// one per burst — not if this conversation already notified, unseen since, less than
/// [`BURST_MS`] ago (`last_unseen`).
pub fn should_notify(a: &Arrival, last_unseen: Option<i64>) -> bool {
    if a.sender_id == a.me || a.muted {
        return false;
    }
    if a.attentive && a.open == Some(a.conversation_id) {
        return false;
    }
    last_unseen.is_none_or(|at| a.now - at >= BURST_MS)
}

/// What the tab's title and icon count: unread messages of the conversations I did not mute.
pub fn badge_count(s: &ClientState) -> i64 {
    s.conversations
        .values()
        .filter(|c| !c.info.muted)
        .map(|c| s.unread(c.info.id))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Conversation, ConversationKind, User};
    use crate::store::{apply, Event};

    const ME: UserId = 1;
    const ALICE: UserId = 2;

    fn arrival(conversation_id: ConversationId, now: i64) -> Arrival {
        Arrival {
            conversation_id,
            sender_id: ALICE,
            me: ME,
            muted: false,
            attentive: false,
            open: None,
            now,
        }
    }

    #[test]
    fn a_message_in_a_background_tab_notifies() {
        assert!(should_notify(&arrival(5, 0), None));
        // Visible and focused, but another conversation is open.
        let a = Arrival {
            attentive: true,
            open: Some(6),
            ..arrival(5, 0)
        };
        assert!(should_notify(&a, None));
        // Hidden or unfocused with this very conversation open.
        let a = Arrival {
            open: Some(5),
            ..arrival(5, 0)
        };
        assert!(should_notify(&a, None));
    }

    #[test]
    fn never_my_own_a_muted_or_the_one_on_screen() {
        let mine = Arrival {
            sender_id: ME,
            ..arrival(5, 0)
        };
        assert!(!should_notify(&mine, None));
        let muted = Arrival {
            muted: true,
            ..arrival(5, 0)
        };
        assert!(!should_notify(&muted, None));
        let on_screen = Arrival {
            attentive: true,
            open: Some(5),
            ..arrival(5, 0)
        };
        assert!(!should_notify(&on_screen, None));
    }

    #[test]
    fn one_notification_per_burst() {
        let mut b = Bursts::default();
        assert!(b.decide(&arrival(5, 1_000)));
        assert!(!b.decide(&arrival(5, 1_010)));
        assert!(!b.decide(&arrival(5, 1_000 + BURST_MS - 1)));
        // Another conversation has its own burst.
        assert!(b.decide(&arrival(6, 1_020)));
        // Still unseen a minute later: a new burst.
        assert!(b.decide(&arrival(5, 1_000 + BURST_MS)));
        assert!(!b.decide(&arrival(5, 1_000 + BURST_MS + 5)));
    }

    #[test]
    fn looking_at_the_conversation_ends_the_burst() {
        let mut b = Bursts::default();
        assert!(b.decide(&arrival(5, 0)));
        assert!(!b.decide(&arrival(5, 10)));
        b.viewed(5);
        assert!(b.decide(&arrival(5, 20)));
        // A message arriving while it is on screen is a look at it, too.
        let seen = Arrival {
            attentive: true,
            open: Some(5),
            ..arrival(5, 30)
        };
        assert!(!b.decide(&seen));
        assert!(b.decide(&arrival(5, 40)));
        // Looking at another conversation does not end this one's burst.
        b.viewed(6);
        assert!(!b.decide(&arrival(5, 50)));
    }

    #[test]
    fn an_ignored_message_does_not_start_a_burst() {
        let mut b = Bursts::default();
        let mine = Arrival {
            sender_id: ME,
            ..arrival(5, 0)
        };
        assert!(!b.decide(&mine));
        let muted = Arrival {
            muted: true,
            ..arrival(5, 5)
        };
        assert!(!b.decide(&muted));
        assert!(b.decide(&arrival(5, 10)), "nothing was shown yet");
    }

    fn conv(id: ConversationId, unread: i64, muted: bool) -> Conversation {
        Conversation {
            id,
            kind: ConversationKind::Direct,
            title: "Alice".into(),
            members: Vec::new(),
            last_seq: unread,
            last_rev: unread,
            last_message: None,
            read_seq: 0,
            unread,
            created_at: 0,
            updated_at: id,
            muted,
        }
    }

    #[test]
    fn the_badge_leaves_muted_conversations_out() {
        let mut s = ClientState::default();
        apply(
            &mut s,
            Event::LoggedIn(User {
                id: ME,
                username: "me".into(),
                display_name: "Me".into(),
                created_at: 0,
            }),
        );
        apply(
            &mut s,
            Event::ConversationsLoaded(vec![
                conv(5, 3, false),
                conv(6, 4, true),
                conv(7, 2, false),
            ]),
        );
        assert_eq!(badge_count(&s), 5);
        // Unmuted (a `conversation` frame from another device): it counts again.
        apply(&mut s, Event::ConversationUpserted(conv(6, 4, false)));
        assert_eq!(badge_count(&s), 9);
        apply(&mut s, Event::ConversationUpserted(conv(5, 3, true)));
        assert_eq!(badge_count(&s), 6);
    }
}
