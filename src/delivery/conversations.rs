//! Telling members about a conversation: when it is created, reopened or a member leaves, each
//! online member gets a `conversation` frame as they see it (their title, read position and
//! unread count).

use app::model::{Conversation, ConversationKind, UserId};
use app::protocol::ServerFrame;

use super::{frame, Delivery, Frame};
use crate::store::{ConversationViews, Viewer};

impl Delivery {
    /// Tells the members' connections (but `skip`'s) about the conversation, each as they see it.
    /// The conversation is built once; per online member only the viewer's fields (title of a
    /// direct conversation, `read_seq`, `unread`) are patched, and the member list, the bulk of a
    /// group's frame, is serialized once (see [`ConversationFrames`]). So the server's work is
    /// linear in the members, apart from copying each frame into its outbox.
    pub fn announce_conversation(&self, views: ConversationViews, skip: Option<UserId>) {
        let hub = &self.fanout;
        let ConversationViews { shared, viewers } = views;
        let mut targets = viewers
            .iter()
            .filter(|v| Some(v.user_id) != skip && hub.may_reach(v.user_id))
            .peekable();
        if targets.peek().is_none() {
            return;
        }
        let mut frames = ConversationFrames::new(shared);
        for v in targets {
            hub.send_to_user(v.user_id, &frames.for_viewer(v), None);
        }
    }
}

/// `conversation` frames of one conversation for many viewers. For a group, the member list is
/// serialized once and spliced into each viewer's frame: building N frames of an N-member group
/// costs O(N) serialization plus O(N²) bytes of copying, instead of O(N²) serialization.
struct ConversationFrames {
    /// The conversation frame; for a group its `members` are held apart, in `members_json`.
    frame: ServerFrame,
    members_json: Option<String>,
}

/// How the (empty) member list of a group appears in a serialized frame. The fields before it
/// (`type`, `id`, `kind`, `title`) cannot contain it: quotes inside a JSON string are escaped.
const EMPTY_MEMBERS: &str = "\"members\":[]";

impl ConversationFrames {
    fn new(mut conversation: Conversation) -> ConversationFrames {
        let members_json = if conversation.kind == ConversationKind::Group {
            let members = std::mem::take(&mut conversation.members);
            serde_json::to_string(&members).ok()
        } else {
            None
        };
        ConversationFrames {
            frame: ServerFrame::Conversation { conversation },
            members_json,
        }
    }

    fn for_viewer(&mut self, viewer: &Viewer) -> Frame {
        if let ServerFrame::Conversation { conversation } = &mut self.frame {
            viewer.apply(conversation);
        }
        let small = frame(&self.frame);
        let Some(members) = &self.members_json else {
            return small;
        };
        match small.find(EMPTY_MEMBERS) {
            Some(at) => {
                let cut = at + EMPTY_MEMBERS.len() - 2;
                let mut out = String::with_capacity(small.len() + members.len());
                out.push_str(&small[..cut]);
                out.push_str(members);
                out.push_str(&small[cut + 2..]);
                Frame::from(out)
            }
            // Not reached (see EMPTY_MEMBERS); a frame without members beats a wrong one.
            None => small,
        }
    }
}

#[cfg(test)]
mod tests {
    use app::model::{Member, Message, MessageStatus};

    use super::*;

    fn conversation(kind: ConversationKind, title: &str, members: usize) -> Conversation {
        Conversation {
            id: 9,
            kind,
            title: title.into(),
            members: (1..=members as i64)
                .map(|i| Member {
                    user_id: i,
                    username: format!("u{i}"),
                    display_name: format!("User \"{i}\" \\ \"members\":[]"),
                    read_seq: i,
                    delivered_seq: i + 1,
                })
                .collect(),
            last_seq: 3,
            last_rev: 4,
            last_message: Some(Message {
                id: 30,
                conversation_id: 9,
                seq: 3,
                sender_id: 1,
                sender_name: "User 1".into(),
                client_msg_id: "c".into(),
                content: Some("\"members\":[] in a message".into()),
                recalled: false,
                recalled_at: None,
                status: MessageStatus::Sent,
                created_at: 5,
                rev: 3,
            }),
            read_seq: 0,
            unread: 0,
            muted: false,
            created_at: 1,
            updated_at: 5,
        }
    }

    /// The spliced frames are exactly what serializing each viewer's conversation gives.
    #[test]
    fn spliced_frames_equal_full_serialization() {
        for (kind, title, n) in [
            (ConversationKind::Group, "Team \"members\":[] x", 5),
            (ConversationKind::Group, "", 1),
            (ConversationKind::Direct, "", 2),
        ] {
            let shared = conversation(kind, title, n);
            let viewers: Vec<Viewer> = (1..=n as i64)
                .map(|i| Viewer {
                    user_id: i,
                    read_seq: i,
                    unread: 3 - i,
                    muted: i == 2,
                })
                .collect();
            let mut frames = ConversationFrames::new(shared.clone());
            for v in &viewers {
                let mut expected = shared.clone();
                v.apply(&mut expected);
                let expected = frame(&ServerFrame::Conversation {
                    conversation: expected,
                });
                assert_eq!(
                    frames.for_viewer(v),
                    expected,
                    "{kind:?} viewer {}",
                    v.user_id
                );
            }
        }
    }
}
