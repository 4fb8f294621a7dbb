//! Host tests of the pure client store: every event, and the invariants the UI relies on.

use super::*;
use crate::model::{ConversationKind, Member, Rev};
use crate::protocol::RevMark;

const ME: UserId = 1;
const BOB: UserId = 2;
const CAROL: UserId = 3;
const C1: ConversationId = 10;
const C2: ConversationId = 20;

fn user(id: UserId, name: &str) -> User {
    User {
        id,
        username: name.to_lowercase(),
        display_name: name.into(),
        created_at: 0,
    }
}

fn member(id: UserId, read: Seq, delivered: Seq) -> Member {
    Member {
        user_id: id,
        username: format!("u{id}"),
        display_name: format!("User {id}"),
        read_seq: read,
        delivered_seq: delivered,
    }
}

fn conv(id: ConversationId, last_seq: Seq, read_seq: Seq, unread: i64) -> Conversation {
    Conversation {
        id,
        kind: ConversationKind::Direct,
        title: "Bob".into(),
        members: vec![member(ME, read_seq, last_seq), member(BOB, 0, 0)],
        last_seq,
        last_rev: last_seq,
        last_message: None,
        read_seq,
        unread,
        created_at: 0,
        updated_at: id,
        muted: false,
    }
}

fn msg(cid: ConversationId, seq: Seq, sender: UserId) -> Message {
    Message {
        id: cid * 100_000 + seq,
        conversation_id: cid,
        seq,
        sender_id: sender,
        sender_name: format!("User {sender}"),
        client_msg_id: format!("c-{cid}-{seq}"),
        content: Some(format!("hello {seq}")),
        recalled: false,
        recalled_at: None,
        status: MessageStatus::Sent,
        created_at: 1_000 + seq,
        rev: seq,
    }
}

fn page(cid: ConversationId, seqs: std::ops::RangeInclusive<Seq>, has_more: bool) -> HistoryPage {
    HistoryPage {
        conversation_id: cid,
        messages: seqs.map(|s| msg(cid, s, BOB)).collect(),
        has_more,
    }
}

/// A logged-in state with conversation C1 (last seq `last`, nothing read) in the list.
fn state_with(last: Seq) -> ClientState {
    let mut s = ClientState::default();
    apply(&mut s, Event::LoggedIn(user(ME, "Me")));
    apply(
        &mut s,
        Event::ConversationsLoaded(vec![conv(C1, last, 0, last)]),
    );
    s
}

fn seqs(s: &ClientState, cid: ConversationId) -> Vec<Seq> {
    s.timelines[&cid].messages.keys().copied().collect()
}

fn open_and_load(s: &mut ClientState, cid: ConversationId, p: HistoryPage) {
    apply(s, Event::Opened(Some(cid)));
    let req = begin_history(s, cid, HistoryDirection::Newest).expect("request");
    apply(
        s,
        Event::HistoryLoaded {
            token: req.token,
            page: p,
        },
    );
}

#[test]
fn pages_live_and_batches_merge_in_seq_order_without_duplicates() {
    let mut s = state_with(60);
    open_and_load(&mut s, C1, page(C1, 11..=60, true));
    // A live message, then a replay that overlaps what we hold, then an older page.
    apply(&mut s, Event::Live(msg(C1, 61, BOB)));
    apply(
        &mut s,
        Event::Batch {
            through: None,
            reason: ReplayReason::Sync,
            messages: (58..=63).map(|q| msg(C1, q, BOB)).collect(),
        },
    );
    let req = begin_history(&mut s, C1, HistoryDirection::Older).expect("older");
    assert_eq!(req.before, Some(11));
    apply(
        &mut s,
        Event::HistoryLoaded {
            token: req.token,
            page: page(C1, 1..=10, false),
        },
    );
    assert_eq!(seqs(&s, C1), (1..=63).collect::<Vec<_>>());
    assert!(!s.timelines[&C1].has_more);
    let views = s.message_views(C1);
    assert_eq!(views.len(), 63);
    assert!(views.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(s.conversations[&C1].info.last_seq, 63);
    assert_eq!(
        s.conversations[&C1].info.last_message.as_ref().unwrap().seq,
        63
    );
}

#[test]
fn optimistic_send_is_replaced_by_its_ack_and_duplicate_acks_are_idempotent() {
    let mut s = state_with(5);
    open_and_load(&mut s, C1, page(C1, 1..=5, false));
    apply(
        &mut s,
        Event::Queued {
            client_msg_id: "mine-1".into(),
            conversation_id: C1,
            content: "hi".into(),
            now: 50,
        },
    );
    let v = s.message_views(C1);
    assert_eq!(v.len(), 6);
    assert_eq!(v[5].status, MessageStatus::Sending);
    assert_eq!(v[5].seq, None);
    assert!(v[5].mine);

    let mut acked = msg(C1, 6, ME);
    acked.client_msg_id = "mine-1".into();
    for _ in 0..3 {
        apply(
            &mut s,
            Event::Sent {
                client_msg_id: "mine-1".into(),
                message: acked.clone(),
            },
        );
    }
    // The echo from another tab and a replay carry the same message: still one row.
    apply(&mut s, Event::Live(acked.clone()));
    apply(
        &mut s,
        Event::Batch {
            through: None,
            reason: ReplayReason::Sync,
            messages: vec![acked.clone()],
        },
    );
    let v = s.message_views(C1);
    assert_eq!(v.len(), 6);
    assert_eq!(v.iter().filter(|m| m.client_msg_id == "mine-1").count(), 1);
    assert_eq!(v[5].seq, Some(6));
    assert_eq!(v[5].status, MessageStatus::Sent);
    assert!(s.pending.is_empty());
}

#[test]
fn an_echo_arriving_before_the_ack_also_replaces_the_pending_copy() {
    let mut s = state_with(0);
    apply(
        &mut s,
        Event::Queued {
            client_msg_id: "x".into(),
            conversation_id: C1,
            content: "a".into(),
            now: 1,
        },
    );
    let mut m = msg(C1, 1, ME);
    m.client_msg_id = "x".into();
    apply(&mut s, Event::Live(m.clone()));
    assert!(s.pending.is_empty());
    apply(
        &mut s,
        Event::Sent {
            client_msg_id: "x".into(),
            message: m,
        },
    );
    assert_eq!(s.message_views(C1).len(), 1);
}

#[test]
fn queued_twice_with_the_same_id_is_one_message() {
    let mut s = state_with(0);
    for _ in 0..2 {
        apply(
            &mut s,
            Event::Queued {
                client_msg_id: "x".into(),
                conversation_id: C1,
                content: "a".into(),
                now: 1,
            },
        );
    }
    assert_eq!(s.message_views(C1).len(), 1);
}

#[test]
fn pending_messages_keep_typing_order_and_resend_rules() {
    let mut s = state_with(0);
    for (i, id) in ["b", "a", "c"].iter().enumerate() {
        apply(
            &mut s,
            Event::Queued {
                client_msg_id: (*id).into(),
                conversation_id: C1,
                content: (*id).into(),
                now: i as i64,
            },
        );
    }
    let order: Vec<_> = s
        .message_views(C1)
        .into_iter()
        .map(|v| v.client_msg_id)
        .collect();
    assert_eq!(order, ["b", "a", "c"]);
    assert_eq!(s.due_sends(0).len(), 3);
    for id in ["a", "b", "c"] {
        apply(
            &mut s,
            Event::SendAttempted {
                client_msg_id: id.into(),
                now: 100,
            },
        );
    }
    assert!(s.due_sends(100 + RESEND_AFTER_MS - 1).is_empty());
    assert_eq!(s.due_sends(100 + RESEND_AFTER_MS).len(), 3);
    // Refused for good: shown as failed, never resent until the user retries.
    apply(
        &mut s,
        Event::SendRefused {
            client_msg_id: "a".into(),
            code: "too_long".into(),
            retry_at: None,
        },
    );
    // Rate limited: held back until the given time.
    apply(
        &mut s,
        Event::SendRefused {
            client_msg_id: "c".into(),
            code: "rate_limited".into(),
            retry_at: Some(500),
        },
    );
    s.forget_attempts();
    let due: Vec<_> = s
        .due_sends(200)
        .into_iter()
        .map(|p| p.client_msg_id)
        .collect();
    assert_eq!(due, ["b"]);
    let due: Vec<_> = s
        .due_sends(500)
        .into_iter()
        .map(|p| p.client_msg_id)
        .collect();
    assert_eq!(due, ["b", "c"]);
    assert_eq!(
        s.message_views(C1)
            .iter()
            .find(|v| v.client_msg_id == "a")
            .unwrap()
            .failed
            .as_deref(),
        Some("too_long")
    );
    apply(
        &mut s,
        Event::Retry {
            client_msg_id: "a".into(),
        },
    );
    assert_eq!(s.due_sends(500).len(), 3);
    apply(
        &mut s,
        Event::Discard {
            client_msg_id: "a".into(),
        },
    );
    assert_eq!(s.message_views(C1).len(), 2);
}

#[test]
fn restored_outbox_does_not_duplicate_and_is_resent() {
    let mut s = state_with(0);
    apply(
        &mut s,
        Event::Queued {
            client_msg_id: "x".into(),
            conversation_id: C1,
            content: "a".into(),
            now: 1,
        },
    );
    let saved: Vec<_> = s.pending.values().cloned().collect();
    apply(&mut s, Event::RestoreOutbox(saved.clone()));
    assert_eq!(s.pending.len(), 1);
    let mut fresh = state_with(0);
    apply(&mut fresh, Event::RestoreOutbox(saved));
    assert_eq!(fresh.due_sends(2).len(), 1);
}

#[test]
fn late_history_answers_for_a_conversation_left_are_ignored() {
    let mut s = state_with(50);
    apply(&mut s, Event::ConversationUpserted(conv(C2, 3, 0, 3)));
    apply(&mut s, Event::Opened(Some(C1)));
    let req1 = begin_history(&mut s, C1, HistoryDirection::Newest).unwrap();
    // The user switches away before the answer comes.
    apply(&mut s, Event::Opened(Some(C2)));
    let req2 = begin_history(&mut s, C2, HistoryDirection::Newest).unwrap();
    apply(
        &mut s,
        Event::HistoryLoaded {
            token: req1.token,
            page: page(C1, 1..=50, false),
        },
    );
    assert!(s.timelines[&C1].messages.is_empty());
    assert!(!s.timelines[&C1].loaded);
    apply(
        &mut s,
        Event::HistoryLoaded {
            token: req2.token,
            page: page(C2, 1..=3, false),
        },
    );
    assert_eq!(seqs(&s, C2), vec![1, 2, 3]);
    // Coming back starts a fresh request; the old token stays dead.
    apply(&mut s, Event::Opened(Some(C1)));
    let req3 = begin_history(&mut s, C1, HistoryDirection::Newest).unwrap();
    assert_ne!(req3.token, req1.token);
    apply(
        &mut s,
        Event::HistoryLoaded {
            token: req1.token,
            page: page(C1, 1..=50, false),
        },
    );
    assert!(s.timelines[&C1].messages.is_empty());
    apply(
        &mut s,
        Event::HistoryLoaded {
            token: req3.token,
            page: page(C1, 1..=50, false),
        },
    );
    assert_eq!(s.timelines[&C1].messages.len(), 50);
}

#[test]
fn one_request_per_direction_and_failures_free_the_slot() {
    let mut s = state_with(100);
    open_and_load(&mut s, C1, page(C1, 51..=100, true));
    let r = begin_history(&mut s, C1, HistoryDirection::Older).unwrap();
    assert!(begin_history(&mut s, C1, HistoryDirection::Older).is_none());
    apply(&mut s, Event::HistoryFailed { token: r.token });
    assert!(s.timelines[&C1].loading.is_none());
    assert!(begin_history(&mut s, C1, HistoryDirection::Older).is_some());
    // Nothing newer to page towards at the live end.
    assert!(begin_history(&mut s, C1, HistoryDirection::Newer).is_none());
}

#[test]
fn no_older_request_when_history_starts_in_memory() {
    let mut s = state_with(3);
    open_and_load(&mut s, C1, page(C1, 1..=3, false));
    assert!(!s.timelines[&C1].has_more);
    assert!(begin_history(&mut s, C1, HistoryDirection::Older).is_none());
}

#[test]
fn status_only_moves_forward() {
    let mut s = state_with(1);
    let mut m = msg(C1, 1, ME);
    m.status = MessageStatus::Sent;
    open_and_load(
        &mut s,
        C1,
        HistoryPage {
            conversation_id: C1,
            messages: vec![m.clone()],
            has_more: false,
        },
    );
    let set = |s: &mut ClientState, st| {
        apply(
            s,
            Event::Status {
                conversation_id: C1,
                message_id: m.id,
                seq: 1,
                status: st,
            },
        )
    };
    set(&mut s, MessageStatus::Read);
    set(&mut s, MessageStatus::Delivered);
    set(&mut s, MessageStatus::Sent);
    assert_eq!(s.timelines[&C1].messages[&1].status, MessageStatus::Read);
    // A stale copy (older page, replay) does not move it back either.
    apply(
        &mut s,
        Event::Batch {
            through: None,
            reason: ReplayReason::Sync,
            messages: vec![m.clone()],
        },
    );
    assert_eq!(s.timelines[&C1].messages[&1].status, MessageStatus::Read);
}

#[test]
fn status_for_a_message_not_in_memory_applies_when_it_arrives() {
    let mut s = state_with(1);
    let m = msg(C1, 1, ME);
    apply(
        &mut s,
        Event::Status {
            conversation_id: C1,
            message_id: m.id,
            seq: 1,
            status: MessageStatus::Delivered,
        },
    );
    apply(&mut s, Event::Live(m));
    assert_eq!(
        s.timelines[&C1].messages[&1].status,
        MessageStatus::Delivered
    );
}

#[test]
fn read_positions_of_others_mark_my_messages_read() {
    let mut s = state_with(0);
    for q in 1..=3 {
        apply(&mut s, Event::Live(msg(C1, q, ME)));
    }
    apply(
        &mut s,
        Event::ReadPosition {
            conversation_id: C1,
            user_id: BOB,
            seq: 2,
        },
    );
    let st: Vec<_> = s.timelines[&C1]
        .messages
        .values()
        .map(|m| m.status)
        .collect();
    assert_eq!(
        st,
        [
            MessageStatus::Read,
            MessageStatus::Read,
            MessageStatus::Sent
        ]
    );
    // Positions never move back.
    apply(
        &mut s,
        Event::ReadPosition {
            conversation_id: C1,
            user_id: BOB,
            seq: 1,
        },
    );
    let bob = s.conversations[&C1]
        .info
        .members
        .iter()
        .find(|m| m.user_id == BOB)
        .unwrap();
    assert_eq!(bob.read_seq, 2);
}

#[test]
fn in_a_group_read_needs_every_other_member() {
    let mut s = state_with(0);
    let mut g = conv(C2, 0, 0, 0);
    g.kind = ConversationKind::Group;
    g.members.push(member(CAROL, 0, 0));
    apply(&mut s, Event::ConversationUpserted(g));
    apply(&mut s, Event::Live(msg(C2, 1, ME)));
    apply(
        &mut s,
        Event::ReadPosition {
            conversation_id: C2,
            user_id: BOB,
            seq: 1,
        },
    );
    assert_eq!(s.timelines[&C2].messages[&1].status, MessageStatus::Sent);
    apply(
        &mut s,
        Event::ReadPosition {
            conversation_id: C2,
            user_id: CAROL,
            seq: 1,
        },
    );
    assert_eq!(s.timelines[&C2].messages[&1].status, MessageStatus::Read);
}

#[test]
fn unread_is_derived_from_positions() {
    // The server counted 3 unread of 4 after my position (one is mine).
    let mut s = ClientState::default();
    apply(&mut s, Event::LoggedIn(user(ME, "Me")));
    apply(&mut s, Event::ConversationsLoaded(vec![conv(C1, 4, 0, 3)]));
    assert_eq!(s.unread(C1), 3);
    // Live: one from Bob counts, one of mine does not.
    apply(&mut s, Event::Live(msg(C1, 5, BOB)));
    apply(&mut s, Event::Live(msg(C1, 6, ME)));
    assert_eq!(s.unread(C1), 4);
    // Bob recalls his newest: it no longer counts.
    apply(
        &mut s,
        Event::Recalled {
            rev: 100,
            conversation_id: C1,
            message_id: msg(C1, 5, BOB).id,
            seq: 5,
            recalled_at: 9,
        },
    );
    assert_eq!(s.unread(C1), 3);
    // Reading up to 6 clears everything; another tab's position is the same event.
    apply(
        &mut s,
        Event::ReadPosition {
            conversation_id: C1,
            user_id: ME,
            seq: 6,
        },
    );
    assert_eq!(s.unread(C1), 0);
    // A stale list answer cannot bring the count back.
    apply(&mut s, Event::ConversationsLoaded(vec![conv(C1, 4, 0, 3)]));
    assert_eq!(s.unread(C1), 0);
    apply(&mut s, Event::Live(msg(C1, 7, BOB)));
    assert_eq!(s.unread(C1), 1);
}

#[test]
fn unread_after_partial_read_counts_known_messages_by_rule() {
    let mut s = state_with(0);
    for (q, who) in [(1, BOB), (2, ME), (3, BOB), (4, BOB)] {
        apply(&mut s, Event::Live(msg(C1, q, who)));
    }
    assert_eq!(s.unread(C1), 3);
    apply(
        &mut s,
        Event::ReadPosition {
            conversation_id: C1,
            user_id: ME,
            seq: 1,
        },
    );
    assert_eq!(s.unread(C1), 2);
    apply(
        &mut s,
        Event::ReadPosition {
            conversation_id: C1,
            user_id: ME,
            seq: 3,
        },
    );
    assert_eq!(s.unread(C1), 1);
}

#[test]
fn recall_drops_content_everywhere_and_is_sticky() {
    let mut s = state_with(2);
    let mut c = conv(C1, 2, 0, 2);
    c.last_message = Some(msg(C1, 2, BOB));
    apply(&mut s, Event::ConversationsLoaded(vec![c.clone()]));
    open_and_load(&mut s, C1, page(C1, 1..=2, false));
    let id = msg(C1, 2, BOB).id;
    apply(
        &mut s,
        Event::Recalled {
            rev: 100,
            conversation_id: C1,
            message_id: id,
            seq: 2,
            recalled_at: 77,
        },
    );
    let m = &s.timelines[&C1].messages[&2];
    assert!(m.recalled);
    assert_eq!(m.content, None);
    assert_eq!(m.recalled_at, Some(77));
    let lm = s.conversations[&C1].info.last_message.as_ref().unwrap();
    assert!(lm.recalled && lm.content.is_none());
    // A page or list fetched before the recall must not bring the text back.
    apply(
        &mut s,
        Event::Batch {
            through: None,
            reason: ReplayReason::Pending,
            messages: vec![msg(C1, 2, BOB)],
        },
    );
    apply(&mut s, Event::ConversationsLoaded(vec![c]));
    assert_eq!(s.timelines[&C1].messages[&2].content, None);
    assert!(
        s.conversations[&C1]
            .info
            .last_message
            .as_ref()
            .unwrap()
            .recalled
    );
    assert!(s.message_views(C1)[1].recalled);
}

/// The change log decides between two copies of one message: the higher rev is the newer
/// state, whatever order the copies arrive in (a history page fetched before a change, a
/// replay, a live frame).
#[test]
fn a_copy_older_than_the_one_held_never_undoes_a_change() {
    let mut s = state_with(3);
    let mut c = conv(C1, 3, 0, 3);
    c.last_message = Some(msg(C1, 3, BOB));
    apply(&mut s, Event::ConversationsLoaded(vec![c.clone()]));
    open_and_load(&mut s, C1, page(C1, 1..=3, false));
    let changed = |seq: Seq, rev: Rev, text: &str| {
        let mut m = msg(C1, seq, BOB);
        m.rev = rev;
        m.content = Some(text.into());
        m
    };
    // A newer state of message 2 arrives, then an older copy of it, then one in between.
    apply(&mut s, Event::Live(changed(2, 9, "newest")));
    for stale in [changed(2, 2, "original"), changed(2, 7, "older")] {
        apply(
            &mut s,
            Event::Batch {
                through: None,
                reason: ReplayReason::Sync,
                messages: vec![stale],
            },
        );
    }
    let m = &s.timelines[&C1].messages[&2];
    assert_eq!((m.rev, m.content.as_deref()), (9, Some("newest")));
    // The same for the conversation's preview: a live change, then a list made before it.
    apply(&mut s, Event::Live(changed(3, 10, "preview, changed")));
    apply(&mut s, Event::ConversationsLoaded(vec![c]));
    let lm = s.conversations[&C1].info.last_message.as_ref().unwrap();
    assert_eq!(
        (lm.rev, lm.content.as_deref()),
        (10, Some("preview, changed"))
    );
    assert_eq!(
        s.message_views(C1)[2].content.as_deref(),
        Some("preview, changed")
    );
}

#[test]
fn recall_of_a_message_not_yet_loaded_applies_when_it_loads() {
    let mut s = state_with(5);
    apply(
        &mut s,
        Event::Recalled {
            rev: 100,
            conversation_id: C1,
            message_id: msg(C1, 3, BOB).id,
            seq: 3,
            recalled_at: 1,
        },
    );
    open_and_load(&mut s, C1, page(C1, 1..=5, false));
    assert!(s.timelines[&C1].messages[&3].recalled);
    assert_eq!(s.timelines[&C1].messages[&3].content, None);
}

#[test]
fn http_recall_answer_updates_the_message() {
    let mut s = state_with(1);
    let mut m = msg(C1, 1, ME);
    open_and_load(
        &mut s,
        C1,
        HistoryPage {
            conversation_id: C1,
            messages: vec![m.clone()],
            has_more: false,
        },
    );
    m.recalled = true;
    m.content = None;
    m.recalled_at = Some(5);
    apply(&mut s, Event::MessageUpdated(m));
    assert!(s.timelines[&C1].messages[&1].recalled);
}

#[test]
fn memory_is_bounded_at_the_live_end_by_dropping_the_oldest() {
    let mut s = state_with(0);
    let n = MAX_MESSAGES_PER_CONVERSATION as Seq + 120;
    open_and_load(
        &mut s,
        C1,
        HistoryPage {
            conversation_id: C1,
            messages: vec![],
            has_more: false,
        },
    );
    for q in 1..=n {
        apply(&mut s, Event::Live(msg(C1, q, BOB)));
    }
    let tl = &s.timelines[&C1];
    assert_eq!(tl.messages.len(), MAX_MESSAGES_PER_CONVERSATION);
    assert_eq!(tl.first_seq(), Some(121));
    assert_eq!(tl.last_seq(), Some(n));
    assert!(tl.has_more);
    assert!(!tl.has_newer);
    // A big replay is bounded the same way.
    apply(
        &mut s,
        Event::Batch {
            through: None,
            reason: ReplayReason::Pending,
            messages: (n + 1..=n + 2_000).map(|q| msg(C1, q, BOB)).collect(),
        },
    );
    assert_eq!(
        s.timelines[&C1].messages.len(),
        MAX_MESSAGES_PER_CONVERSATION
    );
    assert_eq!(s.timelines[&C1].last_seq(), Some(n + 2_000));
}

#[test]
fn paging_back_past_the_bound_drops_the_newest_and_pages_forward_again() {
    let total: Seq = 1_000;
    let mut s = state_with(total);
    open_and_load(&mut s, C1, page(C1, total - 49..=total, true));
    // Page back until the bound is crossed.
    while s.timelines[&C1].messages.len() < MAX_MESSAGES_PER_CONVERSATION + 50 {
        let Some(r) = begin_history(&mut s, C1, HistoryDirection::Older) else {
            break;
        };
        let before = r.before.unwrap();
        let p = page(C1, (before - 50).max(1)..=before - 1, before - 50 > 1);
        apply(
            &mut s,
            Event::HistoryLoaded {
                token: r.token,
                page: p,
            },
        );
        if s.timelines[&C1].has_newer {
            break;
        }
    }
    let tl = &s.timelines[&C1];
    assert_eq!(tl.messages.len(), MAX_MESSAGES_PER_CONVERSATION);
    assert!(tl.has_newer);
    let last = tl.last_seq().unwrap();
    assert!(last < total);
    // New live messages do not open a hole while the newest are trimmed.
    apply(&mut s, Event::Live(msg(C1, total + 1, BOB)));
    assert_eq!(s.timelines[&C1].last_seq(), Some(last));
    assert_eq!(s.conversations[&C1].info.last_seq, total + 1);
    assert!(s.newest_shown_seq(C1).is_none());
    assert!(s.resume_points().is_empty());
    // Page forward until the live end.
    let mut guard = 0;
    while s.timelines[&C1].has_newer {
        let r = begin_history(&mut s, C1, HistoryDirection::Newer).unwrap();
        let before = r.before.unwrap();
        let hi = (before - 1).min(total + 1);
        let lo = (before - r.limit).max(1);
        let p = HistoryPage {
            conversation_id: C1,
            messages: (lo..=hi).map(|q| msg(C1, q, BOB)).collect(),
            has_more: lo > 1,
        };
        apply(
            &mut s,
            Event::HistoryLoaded {
                token: r.token,
                page: p,
            },
        );
        guard += 1;
        assert!(guard < 100);
    }
    let tl = &s.timelines[&C1];
    assert_eq!(tl.last_seq(), Some(total + 1));
    assert_eq!(tl.messages.len(), MAX_MESSAGES_PER_CONVERSATION);
    assert_eq!(tl.contiguous_last(), Some(total + 1));
}

#[test]
fn newest_page_replaces_an_old_island_so_no_hole_shows() {
    let mut s = state_with(300);
    // Earlier, a replay left 5..=7 in memory; the conversation has moved on since.
    apply(
        &mut s,
        Event::Batch {
            through: None,
            reason: ReplayReason::Pending,
            messages: (5..=7).map(|q| msg(C1, q, BOB)).collect(),
        },
    );
    open_and_load(&mut s, C1, page(C1, 251..=300, true));
    assert_eq!(seqs(&s, C1), (251..=300).collect::<Vec<_>>());
    assert!(s.timelines[&C1].has_more);
}

fn point(after_rev: Rev) -> Vec<ResumePoint> {
    vec![ResumePoint {
        conversation_id: C1,
        after_rev,
    }]
}

/// A resume starts where the change log is known through: from the lowest rev held until a
/// sync page says how far it covers, then each change that follows; a live change further on
/// is a gap, whether or not it skips a seq (a recall takes a rev and no seq).
#[test]
fn resume_points_follow_the_change_log() {
    let mut s = state_with(10);
    open_and_load(&mut s, C1, page(C1, 3..=5, true));
    assert_eq!(
        s.resume_points(),
        point(3),
        "nothing said yet: from the lowest rev held"
    );
    apply(&mut s, Event::Live(msg(C1, 8, BOB)));
    assert_eq!(
        s.gaps.iter().copied().collect::<Vec<_>>(),
        vec![C1],
        "seq gap"
    );
    apply(&mut s, Event::GapsRequested);
    assert!(s.gaps.is_empty());
    apply(
        &mut s,
        Event::Batch {
            through: Some(RevMark {
                conversation_id: C1,
                rev: 12,
            }),
            reason: ReplayReason::Sync,
            messages: (6..=10).map(|q| msg(C1, q, BOB)).collect(),
        },
    );
    assert_eq!(
        s.resume_points(),
        point(12),
        "the page covers the log through 12"
    );
    // The next changes advance it: a new message (rev 13), a recall (rev 14).
    apply(&mut s, Event::Live(msg_rev(C1, 11, 13)));
    apply(
        &mut s,
        Event::Recalled {
            conversation_id: C1,
            message_id: msg(C1, 4, BOB).id,
            seq: 4,
            recalled_at: 5,
            rev: 14,
        },
    );
    assert_eq!(s.resume_points(), point(14));
    assert!(s.gaps.is_empty());
    // A recall two changes on: change 15 was missed although no seq is.
    apply(
        &mut s,
        Event::Recalled {
            conversation_id: C1,
            message_id: msg(C1, 5, BOB).id,
            seq: 5,
            recalled_at: 6,
            rev: 16,
        },
    );
    assert_eq!(
        s.gaps.iter().copied().collect::<Vec<_>>(),
        vec![C1],
        "rev gap"
    );
    assert_eq!(s.resume_points(), point(14), "resume from before the gap");
    // A copy that is not live (a history page, a replay) carrying the missing change fills it.
    apply(
        &mut s,
        Event::Batch {
            through: None,
            reason: ReplayReason::Pending,
            messages: vec![msg_rev(C1, 12, 15)],
        },
    );
    assert_eq!(s.resume_points(), point(15));

    // `heads`: a conversation held and seen through 15 that the server says is at 15 is up to
    // date; at 17, changes were missed with no live frame to show it (lost between nodes).
    // Conversations not held are left to be loaded when opened.
    s.gaps.clear();
    let heads = |rev| {
        Event::Heads(vec![
            RevMark {
                conversation_id: C1,
                rev,
            },
            RevMark {
                conversation_id: 77,
                rev: 40,
            },
        ])
    };
    apply(&mut s, heads(15));
    assert!(s.gaps.is_empty(), "nothing missed");
    apply(&mut s, heads(17));
    assert_eq!(
        s.gaps.iter().copied().collect::<Vec<_>>(),
        vec![C1],
        "heads ahead"
    );
    assert_eq!(s.resume_points(), point(15));
}

fn msg_rev(cid: ConversationId, seq: Seq, rev: Rev) -> Message {
    let mut m = msg(cid, seq, BOB);
    m.rev = rev;
    m
}

#[test]
fn messages_for_unknown_conversations_are_kept_and_flagged() {
    let mut s = state_with(0);
    apply(&mut s, Event::Live(msg(99, 1, BOB)));
    assert!(s.unknown_conversations.contains(&99));
    assert_eq!(s.timelines[&99].messages.len(), 1);
    apply(&mut s, Event::ConversationUpserted(conv(99, 1, 0, 1)));
    assert!(s.unknown_conversations.is_empty());
    assert_eq!(s.unread(99), 1);
}

#[test]
fn conversation_list_orders_by_activity_and_a_stale_list_drops_nothing() {
    let mut s = state_with(0);
    apply(&mut s, Event::ConversationUpserted(conv(C2, 0, 0, 0)));
    let ids: Vec<_> = s.conversation_list().iter().map(|c| c.info.id).collect();
    assert_eq!(ids, [C2, C1]);
    apply(&mut s, Event::Live(msg(C1, 1, BOB)));
    let ids: Vec<_> = s.conversation_list().iter().map(|c| c.info.id).collect();
    assert_eq!(ids, [C1, C2]);
    // A list requested before C1 existed answers late: C1 and its messages stay.
    apply(&mut s, Event::ConversationsLoaded(vec![conv(C2, 0, 0, 0)]));
    assert!(s.conversations.contains_key(&C1));
    assert_eq!(s.timelines[&C1].messages.len(), 1);
}

#[test]
fn connection_state_and_banner_flag() {
    let mut s = state_with(0);
    apply(&mut s, Event::Connection(ConnState::Connecting));
    assert!(!s.ever_open);
    apply(&mut s, Event::Connection(ConnState::Open));
    apply(&mut s, Event::Connection(ConnState::Reconnecting));
    assert!(s.ever_open);
    assert_eq!(s.connection.as_str(), "reconnecting");
}

#[test]
fn another_user_logging_in_resets_the_store() {
    let mut s = state_with(3);
    apply(&mut s, Event::Live(msg(C1, 1, BOB)));
    apply(&mut s, Event::LoggedIn(user(ME, "Me")));
    assert!(!s.timelines.is_empty());
    apply(&mut s, Event::LoggedIn(user(BOB, "Bob")));
    assert!(s.timelines.is_empty() && s.conversations.is_empty());
    apply(&mut s, Event::LoggedOut);
    assert_eq!(
        s,
        ClientState {
            session: Session::LoggedOut,
            ..ClientState::default()
        }
    );
}

#[test]
fn typing_expires_and_ignores_me() {
    let mut s = state_with(0);
    apply(
        &mut s,
        Event::Typing {
            conversation_id: C1,
            user_id: BOB,
            until: 100,
        },
    );
    apply(
        &mut s,
        Event::Typing {
            conversation_id: C1,
            user_id: ME,
            until: 100,
        },
    );
    assert_eq!(s.typing_in(C1, 50), vec![BOB]);
    assert!(s.typing_in(C1, 100).is_empty());
}

#[test]
fn a_list_answer_older_than_live_messages_does_not_hide_them() {
    let mut s = ClientState::default();
    apply(&mut s, Event::LoggedIn(user(ME, "Me")));
    // Messages for a conversation the list does not know yet…
    for q in 1..=3 {
        apply(&mut s, Event::Live(msg(C1, q, BOB)));
    }
    // …and its fetch answered when only two existed.
    apply(&mut s, Event::ConversationUpserted(conv(C1, 2, 0, 2)));
    assert_eq!(s.unread(C1), 3);
    assert_eq!(s.conversations[&C1].info.last_seq, 3);
    assert_eq!(
        s.conversations[&C1].info.last_message.as_ref().unwrap().seq,
        3
    );
}

#[test]
fn leaving_a_group_forgets_it_and_ignores_late_news_about_it() {
    let mut s = state_with(3);
    let mut g = conv(C2, 2, 0, 2);
    g.kind = ConversationKind::Group;
    g.title = "Team".into();
    g.members.push(member(CAROL, 0, 0));
    apply(&mut s, Event::ConversationUpserted(g.clone()));
    open_and_load(&mut s, C2, page(C2, 1..=2, false));
    apply(
        &mut s,
        Event::Queued {
            client_msg_id: "unsent".into(),
            conversation_id: C2,
            content: "bye".into(),
            now: 5_000,
        },
    );
    apply(
        &mut s,
        Event::Queued {
            client_msg_id: "elsewhere".into(),
            conversation_id: C1,
            content: "hi".into(),
            now: 5_001,
        },
    );
    apply(
        &mut s,
        Event::Typing {
            conversation_id: C2,
            user_id: BOB,
            until: 9_000,
        },
    );
    assert_eq!(s.active, Some(C2));

    apply(&mut s, Event::ConversationLeft(C2));
    assert!(!s.conversations.contains_key(&C2));
    assert!(!s.timelines.contains_key(&C2));
    assert!(!s.typing.contains_key(&C2));
    assert_eq!(s.active, None, "the open pane closes");
    assert_eq!(
        s.pending.keys().collect::<Vec<_>>(),
        vec!["elsewhere"],
        "unsent messages to the group go, others stay"
    );
    assert_eq!(s.conversation_list().len(), 1);
    assert_eq!(s.unread(C2), 0);

    // A message committed just before the leave, a stale list, a stale `conversation` frame:
    // none of them brings the group back, nor asks the server about it.
    apply(&mut s, Event::Live(msg(C2, 3, BOB)));
    apply(
        &mut s,
        Event::Batch {
            through: None,
            reason: ReplayReason::Pending,
            messages: vec![msg(C2, 4, CAROL)],
        },
    );
    apply(
        &mut s,
        Event::ConversationsLoaded(vec![conv(C1, 3, 0, 3), g.clone()]),
    );
    apply(&mut s, Event::ConversationUpserted(g));
    apply(
        &mut s,
        Event::Typing {
            conversation_id: C2,
            user_id: BOB,
            until: 9_000,
        },
    );
    assert!(!s.conversations.contains_key(&C2));
    assert!(!s.timelines.contains_key(&C2));
    assert!(s.unknown_conversations.is_empty());
    assert!(!s.typing.contains_key(&C2));
    assert!(s.resume_points().iter().all(|r| r.conversation_id != C2));
    assert_eq!(begin_history(&mut s, C2, HistoryDirection::Newest), None);
    assert!(
        s.conversations.contains_key(&C1),
        "other conversations stay"
    );

    // Leaving twice (the answer and the frame from the server) is harmless.
    apply(&mut s, Event::ConversationLeft(C2));
    assert_eq!(s.conversation_list().len(), 1);
}

#[test]
fn only_what_was_on_screen_counts_as_read() {
    let mut s = state_with(5);
    open_and_load(&mut s, C1, page(C1, 1..=5, false));
    // Loaded but not yet reported on screen: nothing to read beyond the stored position.
    assert_eq!(s.read_target(), None);
    apply(
        &mut s,
        Event::OnScreen {
            conversation_id: C1,
            newest: Some(5),
        },
    );
    assert_eq!(s.read_target(), Some((C1, 5)));
    apply(
        &mut s,
        Event::ReadPosition {
            conversation_id: C1,
            user_id: ME,
            seq: 5,
        },
    );
    assert_eq!(s.read_target(), None);
    // A message arrives while the reader is scrolled up (the list still reports 5): unread.
    apply(&mut s, Event::Live(msg(C1, 6, BOB)));
    assert_eq!(s.read_target(), None);
    assert_eq!(s.unread(C1), 1);
    // Scrolled up further: an older message on screen never moves the position back.
    apply(
        &mut s,
        Event::OnScreen {
            conversation_id: C1,
            newest: Some(2),
        },
    );
    assert_eq!(s.read_target(), None);
    // Scrolled to it: now it is read.
    apply(
        &mut s,
        Event::OnScreen {
            conversation_id: C1,
            newest: Some(6),
        },
    );
    assert_eq!(s.read_target(), Some((C1, 6)));
    // A report for a conversation that is not the open one is ignored, and switching away
    // forgets what was on screen.
    apply(
        &mut s,
        Event::OnScreen {
            conversation_id: C2,
            newest: Some(9),
        },
    );
    assert_eq!(s.read_target(), None);
    apply(
        &mut s,
        Event::OnScreen {
            conversation_id: C1,
            newest: Some(6),
        },
    );
    apply(&mut s, Event::Opened(Some(C2)));
    assert_eq!(s.on_screen, None);
    assert_eq!(s.read_target(), None);
}

#[test]
fn queued_messages_say_they_wait_for_the_network_only_while_offline() {
    let mut s = state_with(0);
    apply(&mut s, Event::Opened(Some(C1)));
    apply(
        &mut s,
        Event::Queued {
            client_msg_id: "q1".into(),
            conversation_id: C1,
            content: "hi".into(),
            now: 5,
        },
    );
    let waiting = |s: &ClientState| s.message_views(C1)[0].waiting_for_network;
    assert!(!waiting(&s), "reconnecting is not 'no network'");
    apply(&mut s, Event::Connection(ConnState::Offline));
    assert!(waiting(&s));
    assert_eq!(s.message_views(C1)[0].status, MessageStatus::Sending);
    apply(&mut s, Event::Connection(ConnState::Reconnecting));
    assert!(!waiting(&s));
}

#[test]
fn a_restored_copy_of_a_message_already_committed_is_not_pending_again() {
    let mut s = state_with(0);
    let empty = HistoryPage {
        conversation_id: C1,
        messages: Vec::new(),
        has_more: false,
    };
    open_and_load(&mut s, C1, empty);
    let mut mine = msg(C1, 1, ME);
    mine.client_msg_id = "from-other-tab".into();
    apply(&mut s, Event::Live(mine));
    let copy = PendingMessage {
        client_msg_id: "from-other-tab".into(),
        conversation_id: C1,
        content: "hello 1".into(),
        created_at: 1,
        order: 0,
        last_attempt_at: None,
        attempts: 0,
        failed: None,
        retry_at: None,
    };
    apply(&mut s, Event::RestoreOutbox(vec![copy]));
    assert!(s.pending.is_empty());
    assert_eq!(s.message_views(C1).len(), 1);
}

/// Loads the request the store asks for, answering with the server's page for it.
fn answer(s: &mut ClientState, cid: ConversationId, dir: HistoryDirection, last: Seq) {
    let req = begin_history(s, cid, dir).expect("a request");
    let top = req.before.map(|b| b - 1).unwrap_or(last).min(last);
    let bottom = (top - req.limit + 1).max(1);
    let p = page(cid, bottom..=top, bottom > 1);
    apply(
        s,
        Event::HistoryLoaded {
            token: req.token,
            page: p,
        },
    );
}

#[test]
fn opening_with_many_unread_lands_around_the_first_unread_under_a_divider() {
    let mut s = ClientState::default();
    apply(&mut s, Event::LoggedIn(user(ME, "Me")));
    apply(
        &mut s,
        Event::ConversationsLoaded(vec![conv(C1, 120, 10, 110)]),
    );
    apply(&mut s, Event::Opened(Some(C1)));
    assert_eq!(s.divider, Some((C1, 10)));
    assert_eq!(
        s.focus,
        Some(Focus {
            conversation_id: C1,
            seq: 11,
            highlight: false
        })
    );
    let dir = s.load_for_open(C1).expect("something to load");
    assert_eq!(dir, HistoryDirection::Around(11));
    answer(&mut s, C1, dir, 120);
    let tl = &s.timelines[&C1];
    assert!(tl.messages.contains_key(&11));
    assert_eq!(tl.last_seq(), Some(11 + AROUND_NEWER - 1));
    assert!(tl.has_newer, "the newest messages are not in memory");
    assert!(!tl.has_more, "seq 1 is in the page (it holds 1..=50)");
    // A live message past the island is not appended to it (that would leave a hole).
    apply(&mut s, Event::Live(msg(C1, 121, BOB)));
    assert!(!s.timelines[&C1].messages.contains_key(&121));
    // The divider stays where reading started while the reader moves on.
    apply(
        &mut s,
        Event::OnScreen {
            conversation_id: C1,
            newest: Some(30),
        },
    );
    assert_eq!(
        s.read_target(),
        Some((C1, 30)),
        "what was seen on the island counts"
    );
    assert_eq!(s.divider, Some((C1, 10)));
    // Jump to latest: the newest page replaces the island.
    answer(&mut s, C1, HistoryDirection::Newest, 121);
    let tl = &s.timelines[&C1];
    assert!(!tl.has_newer);
    assert_eq!(tl.last_seq(), Some(121));
    assert!(!tl.messages.contains_key(&11));
    apply(&mut s, Event::Focused);
    assert_eq!(s.focus, None);
}

#[test]
fn opening_with_a_few_unread_loads_the_newest_page_and_nothing_unread_has_no_divider() {
    let mut s = ClientState::default();
    apply(&mut s, Event::LoggedIn(user(ME, "Me")));
    apply(
        &mut s,
        Event::ConversationsLoaded(vec![conv(C1, 120, 100, 20), conv(C2, 50, 50, 0)]),
    );
    apply(&mut s, Event::Opened(Some(C1)));
    assert_eq!(s.divider, Some((C1, 100)));
    assert_eq!(s.load_for_open(C1), Some(HistoryDirection::Newest));
    answer(&mut s, C1, HistoryDirection::Newest, 120);
    // Memory holds the first unread now: reopening loads nothing.
    apply(&mut s, Event::Opened(Some(C2)));
    assert_eq!(s.divider, None);
    assert_eq!(s.focus, None);
    assert_eq!(s.load_for_open(C2), Some(HistoryDirection::Newest));
    apply(&mut s, Event::Opened(Some(C1)));
    assert_eq!(s.load_for_open(C1), None);
}

#[test]
fn a_search_hit_far_back_loads_around_it_and_one_in_memory_loads_nothing() {
    let mut s = state_with(300);
    apply(&mut s, Event::Opened(Some(C1)));
    s.focus = None;
    answer(&mut s, C1, HistoryDirection::Newest, 300);
    apply(
        &mut s,
        Event::FocusOn {
            conversation_id: C1,
            seq: 280,
        },
    );
    assert!(s.focus.is_some_and(|f| f.highlight));
    assert_eq!(s.load_for_open(C1), None, "seq 280 is in memory");
    apply(
        &mut s,
        Event::FocusOn {
            conversation_id: C1,
            seq: 7,
        },
    );
    let dir = s.load_for_open(C1).expect("a jump");
    assert_eq!(dir, HistoryDirection::Around(7));
    // A jump supersedes paging in flight, and answers to the superseded request are ignored.
    let older = begin_history(&mut s, C1, HistoryDirection::Older).expect("older");
    let around = begin_history(&mut s, C1, dir).expect("around supersedes older");
    assert!(
        begin_history(&mut s, C1, dir).is_none(),
        "the same jump once"
    );
    apply(
        &mut s,
        Event::HistoryLoaded {
            token: older.token,
            page: page(C1, 201..=250, true),
        },
    );
    apply(
        &mut s,
        Event::HistoryLoaded {
            token: around.token,
            page: page(C1, 1..=46, false),
        },
    );
    let tl = &s.timelines[&C1];
    assert_eq!(tl.first_seq(), Some(1));
    assert_eq!(tl.last_seq(), Some(46));
    assert!(!tl.has_more);
    assert!(tl.has_newer);
    assert!(!tl.messages.contains_key(&250), "the island was replaced");
}

#[test]
fn a_page_around_a_target_near_the_end_reaches_the_live_end() {
    let mut s = state_with(60);
    apply(&mut s, Event::Opened(Some(C1)));
    let around = begin_history(&mut s, C1, HistoryDirection::Around(30)).unwrap();
    assert_eq!(around.before, Some(30 + AROUND_NEWER));
    apply(
        &mut s,
        Event::HistoryLoaded {
            token: around.token,
            page: page(C1, 11..=60, true),
        },
    );
    let tl = &s.timelines[&C1];
    assert!(!tl.has_newer, "the page ends at the newest message");
    apply(&mut s, Event::Live(msg(C1, 61, BOB)));
    assert!(s.timelines[&C1].messages.contains_key(&61));
}

#[test]
fn a_hit_opened_before_the_list_arrives_loads_around_it_and_knows_newer_exist() {
    let mut s = ClientState::default();
    apply(&mut s, Event::LoggedIn(user(ME, "Me")));
    apply(&mut s, Event::Opened(Some(C1)));
    apply(
        &mut s,
        Event::FocusOn {
            conversation_id: C1,
            seq: 10,
        },
    );
    let dir = s.load_for_open(C1).expect("a load");
    assert_eq!(dir, HistoryDirection::Around(10));
    let req = begin_history(&mut s, C1, dir).unwrap();
    apply(
        &mut s,
        Event::HistoryLoaded {
            token: req.token,
            page: page(C1, 1..=49, false),
        },
    );
    assert!(
        s.timelines[&C1].has_newer,
        "the page reached as far as asked"
    );
}

#[test]
fn the_session_lives_in_the_store_from_check_to_logout() {
    let mut s = ClientState::default();
    assert_eq!(s.session, Session::Checking);
    apply(
        &mut s,
        Event::SessionChecked {
            user: None,
            operator: false,
        },
    );
    assert_eq!(s.session, Session::LoggedOut);
    apply(&mut s, Event::LoggedIn(user(ME, "Me")));
    assert_eq!(s.me_id(), Some(ME));
    assert_eq!(s.operator(), None, "unknown until the server says");
    apply(
        &mut s,
        Event::OperatorKnown {
            user_id: BOB,
            operator: true,
        },
    );
    assert_eq!(s.operator(), None, "an answer about someone else");
    apply(
        &mut s,
        Event::OperatorKnown {
            user_id: ME,
            operator: true,
        },
    );
    assert_eq!(s.operator(), Some(true));
    assert_eq!(s.session.phase(), Phase::LoggedIn);
    // A session check for the same user keeps the store; for another, starts afresh.
    apply(&mut s, Event::ConversationUpserted(conv(C1, 1, 0, 1)));
    apply(
        &mut s,
        Event::SessionChecked {
            user: Some(user(ME, "Me")),
            operator: false,
        },
    );
    assert_eq!(s.operator(), Some(false));
    assert!(s.conversations.contains_key(&C1));
    apply(
        &mut s,
        Event::SessionChecked {
            user: Some(user(BOB, "Bob")),
            operator: false,
        },
    );
    assert!(s.conversations.is_empty());
    assert_eq!(s.me_id(), Some(BOB));
}

#[test]
fn welcome_sets_the_clock_and_recall_window_and_resends_everything_unacknowledged() {
    let mut s = state_with(0);
    apply(
        &mut s,
        Event::Queued {
            client_msg_id: "q1".into(),
            conversation_id: C1,
            content: "hi".into(),
            now: 1_000,
        },
    );
    apply(
        &mut s,
        Event::SendAttempted {
            client_msg_id: "q1".into(),
            now: 1_000,
        },
    );
    assert!(s.pending["q1"].last_attempt_at.is_some());
    apply(
        &mut s,
        Event::Welcomed {
            user: user(ME, "Me"),
            server_time: 50_000,
            recall_window_ms: 60_000,
            local_now: 45_000,
        },
    );
    assert_eq!(s.clock_offset, 5_000);
    assert_eq!(s.recall_window_ms, 60_000);
    assert_eq!(
        s.pending["q1"].last_attempt_at, None,
        "sent again after a reconnect"
    );
    apply(
        &mut s,
        Event::Pong {
            server_time: 51_000,
        },
    );
    // An older server sends no recall window: the default stays.
    let mut t = state_with(0);
    apply(
        &mut t,
        Event::Welcomed {
            user: user(ME, "Me"),
            server_time: 1,
            recall_window_ms: 0,
            local_now: 1,
        },
    );
    assert_eq!(t.recall_window_ms, DEFAULT_RECALL_WINDOW_MS);
    // A welcome for another user (a login in another tab) starts afresh.
    apply(
        &mut s,
        Event::Welcomed {
            user: user(BOB, "Bob"),
            server_time: 1,
            recall_window_ms: 0,
            local_now: 1,
        },
    );
    assert!(s.pending.is_empty() && s.conversations.is_empty());
    assert_eq!(s.me_id(), Some(BOB));
}

#[test]
fn a_message_ends_its_senders_typing_and_the_tick_expires_the_rest() {
    let mut s = state_with(0);
    for (u, until) in [(BOB, 10_000), (CAROL, 5_000)] {
        apply(
            &mut s,
            Event::Typing {
                conversation_id: C1,
                user_id: u,
                until,
            },
        );
    }
    apply(&mut s, Event::Live(msg(C1, 1, BOB)));
    assert_eq!(s.typing_in(C1, 0), vec![CAROL]);
    apply(&mut s, Event::Tick { now: 5_000 });
    assert!(s.typing.is_empty());
}

#[test]
fn every_frame_maps_to_its_events() {
    use crate::protocol::{ReplayReason, ServerFrame};
    use frames::{frame_events, TYPING_SHOW_MS};
    let m = msg(C1, 1, BOB);
    let ev = |f: ServerFrame| frame_events(f, 1_000, 2_000);
    assert_eq!(
        ev(ServerFrame::Welcome {
            protocol_version: 1,
            connection_id: 7,
            user: user(ME, "Me"),
            server_time: 9_000,
            heartbeat_interval_ms: 1,
            heartbeat_timeout_ms: 1,
            recall_window_ms: 60_000,
        }),
        vec![Event::Welcomed {
            user: user(ME, "Me"),
            server_time: 9_000,
            recall_window_ms: 60_000,
            local_now: 1_000
        }]
    );
    assert_eq!(
        ev(ServerFrame::Pong {
            nonce: 1,
            server_time: 5
        }),
        vec![Event::Pong { server_time: 5 }]
    );
    assert_eq!(
        ev(ServerFrame::Sent {
            client_msg_id: "c".into(),
            message: m.clone(),
            duplicate: true
        }),
        vec![Event::Sent {
            client_msg_id: "c".into(),
            message: m.clone()
        }]
    );
    assert_eq!(
        ev(ServerFrame::Message { message: m.clone() }),
        vec![Event::Live(m.clone())]
    );
    assert_eq!(
        ev(ServerFrame::Batch {
            through: None,
            reason: ReplayReason::Pending,
            messages: vec![m.clone()],
            remaining: 3
        }),
        vec![Event::Batch {
            through: None,
            reason: ReplayReason::Pending,
            messages: vec![m.clone()]
        }]
    );
    assert!(ev(ServerFrame::CaughtUp {
        reason: ReplayReason::Sync,
        replayed: 1,
        more: true
    })
    .is_empty());
    assert_eq!(
        ev(ServerFrame::Status {
            message_id: 5,
            conversation_id: C1,
            seq: 1,
            status: MessageStatus::Read
        }),
        vec![Event::Status {
            conversation_id: C1,
            message_id: 5,
            seq: 1,
            status: MessageStatus::Read
        }]
    );
    assert_eq!(
        ev(ServerFrame::ReadPosition {
            conversation_id: C1,
            user_id: BOB,
            seq: 4
        }),
        vec![Event::ReadPosition {
            conversation_id: C1,
            user_id: BOB,
            seq: 4
        }]
    );
    assert_eq!(
        ev(ServerFrame::Recalled {
            rev: 100,
            message_id: 5,
            conversation_id: C1,
            seq: 1,
            recalled_at: 77
        }),
        vec![Event::Recalled {
            rev: 100,
            conversation_id: C1,
            message_id: 5,
            seq: 1,
            recalled_at: 77
        }]
    );
    assert_eq!(
        ev(ServerFrame::Typing {
            conversation_id: C1,
            user_id: BOB
        }),
        vec![Event::Typing {
            conversation_id: C1,
            user_id: BOB,
            until: 2_000 + TYPING_SHOW_MS
        }]
    );
    assert_eq!(
        ev(ServerFrame::Conversation {
            conversation: conv(C1, 0, 0, 0)
        }),
        vec![Event::ConversationUpserted(conv(C1, 0, 0, 0))]
    );
    assert_eq!(
        ev(ServerFrame::ConversationLeft {
            conversation_id: C1
        }),
        vec![Event::ConversationLeft(C1)]
    );
    let error = |cmid: Option<&str>| ServerFrame::Error {
        code: "rate_limited".into(),
        message: "slow down".into(),
        client_msg_id: cmid.map(str::to_string),
        message_id: None,
        retry_after_ms: Some(1_500),
        field: None,
        rule: None,
    };
    assert_eq!(
        ev(error(Some("c9"))),
        vec![Event::SendRefused {
            client_msg_id: "c9".into(),
            code: "rate_limited".into(),
            retry_at: Some(2_500)
        }]
    );
    assert!(
        ev(error(None)).is_empty(),
        "shown as a notice, nothing stored"
    );
}

#[test]
fn search_hits_follow_the_changes_that_arrive_after_them() {
    let mut s = state_with(3);
    let answered = |q: &str, before, hits| Event::SearchAnswered {
        q: q.into(),
        before,
        hits,
        next_before: None,
    };
    // A hit for seq 2, read by the search; then the message is recalled.
    apply(&mut s, answered("hi", None, vec![msg(C1, 2, BOB)]));
    apply(
        &mut s,
        Event::Recalled {
            conversation_id: C1,
            message_id: msg(C1, 2, BOB).id,
            seq: 2,
            recalled_at: 9,
            rev: 4,
        },
    );
    let hit = &s.search.as_ref().unwrap().hits[0];
    assert!(
        hit.recalled && hit.content.is_none(),
        "the recall reaches the hit"
    );
    assert_eq!(hit.rev, 4);

    // A later answer that was read before the recall cannot bring the text back, and a further
    // page of the same query adds to the hits.
    apply(&mut s, answered("hi", None, vec![msg(C1, 2, BOB)]));
    apply(&mut s, answered("hi", Some(2), vec![msg(C1, 1, BOB)]));
    let hits = &s.search.as_ref().unwrap().hits;
    assert_eq!(
        hits.iter().map(|h| (h.seq, h.recalled)).collect::<Vec<_>>(),
        vec![(2, true), (1, false)]
    );
    assert!(hits[0].content.is_none());

    // A newer copy of a hit (live, history) replaces it; an older one does not.
    let mut newer = msg(C1, 1, BOB);
    newer.rev = 7;
    newer.status = MessageStatus::Read;
    apply(&mut s, Event::Live(newer));
    let mut older = msg(C1, 1, BOB);
    older.rev = 1;
    older.content = Some("stale".into());
    apply(
        &mut s,
        Event::Batch {
            reason: ReplayReason::Pending,
            messages: vec![older],
            through: None,
        },
    );
    let hit = &s.search.as_ref().unwrap().hits[1];
    assert_eq!((hit.rev, hit.status), (7, MessageStatus::Read));
    assert_ne!(hit.content.as_deref(), Some("stale"));

    // A new query starts over; clearing the box forgets the hits.
    apply(&mut s, answered("other", Some(1), vec![msg(C1, 3, BOB)]));
    assert_eq!(s.search.as_ref().unwrap().hits.len(), 1);
    apply(&mut s, Event::SearchCleared);
    assert!(s.search.is_none());
}

#[test]
fn each_frame_says_what_to_do_after_it_is_applied() {
    use crate::protocol::{ClientFrame, ReplayReason, ServerFrame};
    use frames::{on_frame, Command};
    let mut s = state_with(3);
    let acks = |cmds: &[Command]| -> Vec<Vec<MessageId>> {
        cmds.iter()
            .filter_map(|c| match c {
                Command::Send(ClientFrame::Ack { message_ids }) => Some(message_ids.clone()),
                _ => None,
            })
            .collect()
    };
    let syncs = |cmds: &[Command]| -> Vec<Vec<ResumePoint>> {
        cmds.iter()
            .filter_map(|c| match c {
                Command::Send(ClientFrame::Sync { conversations }) => Some(conversations.clone()),
                _ => None,
            })
            .collect()
    };

    // A live message: merged, then acknowledged, and offered to the notification rule.
    let m = msg_rev(C1, 4, 4);
    let cmds = on_frame(&mut s, ServerFrame::Message { message: m.clone() }, 0, 0);
    assert!(
        s.timelines[&C1].messages.contains_key(&4),
        "merged before the ack"
    );
    assert_eq!(acks(&cmds), vec![vec![m.id]]);
    assert!(cmds.contains(&Command::Notify(m.clone())));

    // A page: one ack for its ids; an empty sync page none. The page's `through` sets the
    // resume point, so a live change two revs on asks for a sync from it.
    let page = vec![msg_rev(C1, 5, 5), msg_rev(C1, 6, 6)];
    let ids: Vec<_> = page.iter().map(|m| m.id).collect();
    let cmds = on_frame(
        &mut s,
        ServerFrame::Batch {
            reason: ReplayReason::Sync,
            messages: page,
            remaining: 0,
            through: Some(RevMark {
                conversation_id: C1,
                rev: 6,
            }),
        },
        0,
        0,
    );
    assert_eq!(acks(&cmds), vec![ids]);
    let cmds = on_frame(
        &mut s,
        ServerFrame::Message {
            message: msg_rev(C1, 7, 8),
        },
        0,
        0,
    );
    assert_eq!(syncs(&cmds), vec![point(6)], "rev 7 was missed");
    let again = on_frame(
        &mut s,
        ServerFrame::Heads {
            conversations: vec![],
        },
        0,
        0,
    );
    assert!(syncs(&again).is_empty(), "a gap is asked for once");

    // `heads` ahead of what is seen: a sync, without any live frame.
    let cmds = on_frame(
        &mut s,
        ServerFrame::Heads {
            conversations: vec![RevMark {
                conversation_id: C1,
                rev: 9,
            }],
        },
        0,
        0,
    );
    assert_eq!(syncs(&cmds), vec![point(6)]);

    // A capped sync continues from where the store is; a message of a conversation the list
    // lacks fetches it; an error about no send of mine is shown.
    let cmds = on_frame(
        &mut s,
        ServerFrame::CaughtUp {
            reason: ReplayReason::Sync,
            replayed: 5000,
            more: true,
        },
        0,
        0,
    );
    assert_eq!(syncs(&cmds), vec![s.resume_points()]);
    let cmds = on_frame(
        &mut s,
        ServerFrame::Message {
            message: msg(99, 1, BOB),
        },
        0,
        0,
    );
    assert!(cmds.contains(&Command::FetchConversation(99)));
    let cmds = on_frame(
        &mut s,
        ServerFrame::Error {
            code: "not_found".into(),
            message: "no such conversation".into(),
            client_msg_id: None,
            message_id: None,
            retry_after_ms: None,
            field: None,
            rule: None,
        },
        0,
        0,
    );
    assert!(cmds
        .iter()
        .any(|c| matches!(c, Command::Notice { code, .. } if code == "not_found")));
}

#[test]
fn an_empty_sync_page_makes_a_conversation_that_holds_nothing_resumable() {
    let mut s = state_with(0);
    assert!(
        s.resume_points().is_empty(),
        "nothing held, nothing to resume"
    );
    apply(
        &mut s,
        Event::Batch {
            reason: ReplayReason::Sync,
            messages: vec![],
            through: Some(RevMark {
                conversation_id: C2,
                rev: 7,
            }),
        },
    );
    assert_eq!(
        s.resume_points(),
        vec![ResumePoint {
            conversation_id: C2,
            after_rev: 7
        }],
        "the next sync starts where the empty page said the log stands"
    );
}
