//! What the browser keeps for a user across reloads and closed tabs, in localStorage (written
//! synchronously, shared by every tab of the origin):
//!
//! - the outbox, one key per unsent message (`courier.outbox.{user}.{client_msg_id}`), so that
//!   tabs never overwrite each other's messages — there are no transactions to lean on;
//! - the lease naming the one tab that sends the outbox (`courier.lease.{user}`; the rules are
//!   the pure `store::lease`);
//! - drafts, per conversation (`courier.draft.{user}.{conversation}`).
//!
//! Explicit logout forgets all three for that user (a shared computer); a session that merely
//! expired keeps them for the next login.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::model::{ConversationId, UserId};
use crate::store::lease::{self, Lease};
use crate::store::PendingMessage;

/// The browser's localStorage (`None` when the browser refuses it, e.g. storage disabled).
pub fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn local() -> Option<web_sys::Storage> {
    local_storage()
}

fn outbox_prefix(user: UserId) -> String {
    format!("courier.outbox.{user}.")
}

fn lease_key(user: UserId) -> String {
    format!("courier.lease.{user}")
}

fn draft_key(user: UserId, conversation: ConversationId) -> String {
    format!("courier.draft.{user}.{conversation}")
}

/// Where earlier versions kept the outbox (per tab, lost with the tab).
fn old_session_key(user: UserId) -> String {
    format!("courier.outbox.{user}")
}

thread_local! {
    /// This tab's name in the lease.
    static TAB: String = format!(
        "{:x}{:08x}",
        js_sys::Date::now() as u64,
        (js_sys::Math::random() * 4_294_967_296.0) as u64
    );
    /// The outbox entries this tab knows are stored (written or read), by `client_msg_id`, as
    /// stored: it writes only what changed, and removes only what it knew of.
    static KNOWN: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
}

fn keys_with_prefix(st: &web_sys::Storage, prefix: &str) -> Vec<String> {
    let n = st.length().unwrap_or(0);
    (0..n)
        .filter_map(|i| st.key(i).ok().flatten())
        .filter(|k| k.starts_with(prefix))
        .collect()
}

/// Every unsent message of `user` kept by any tab (and, once, those an older version kept in
/// this tab's sessionStorage, which move over).
pub fn load_outbox(user: UserId) -> Vec<PendingMessage> {
    let Some(st) = local() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in keys_with_prefix(&st, &outbox_prefix(user)) {
        if let Some(json) = st.get_item(&key).ok().flatten() {
            if let Ok(p) = serde_json::from_str::<PendingMessage>(&json) {
                KNOWN.with(|k| k.borrow_mut().insert(p.client_msg_id.clone(), json));
                out.push(p);
            }
        }
    }
    let session = web_sys::window().and_then(|w| w.session_storage().ok().flatten());
    if let Some(ss) = session {
        let key = old_session_key(user);
        if let Some(json) = ss.get_item(&key).ok().flatten() {
            if let Ok(old) = serde_json::from_str::<Vec<PendingMessage>>(&json) {
                out.extend(old);
            }
            let _ = ss.remove_item(&key);
        }
    }
    out.sort_by_key(|p| (p.created_at, p.order));
    out
}

/// Brings the stored outbox in line with this tab's `pending`: writes what is new or changed,
/// removes what this tab knew of and is no longer pending (acknowledged, discarded).
pub fn sync_outbox(user: UserId, pending: &[PendingMessage]) {
    let Some(st) = local() else {
        return;
    };
    let prefix = outbox_prefix(user);
    KNOWN.with(|known| {
        let mut known = known.borrow_mut();
        for p in pending {
            let Ok(json) = serde_json::to_string(p) else {
                continue;
            };
            if known.get(&p.client_msg_id) != Some(&json) {
                // A full storage quota is the one way this can fail; the message still goes
                // out from memory, it just would not survive a closed tab.
                let _ = st.set_item(&format!("{prefix}{}", p.client_msg_id), &json);
                known.insert(p.client_msg_id.clone(), json);
            }
        }
        let gone: Vec<String> = known
            .keys()
            .filter(|id| !pending.iter().any(|p| &p.client_msg_id == *id))
            .cloned()
            .collect();
        for id in gone {
            let _ = st.remove_item(&format!("{prefix}{id}"));
            known.remove(&id);
        }
    });
}

/// What another tab changed in `user`'s outbox (a `storage` event): `Some(Ok(message))` for a
/// message added or updated, `Some(Err(client_msg_id))` for one removed, `None` if the key is
/// not part of that outbox.
pub fn outbox_change(
    user: UserId,
    key: &str,
    new_value: Option<String>,
) -> Option<Result<PendingMessage, String>> {
    let id = key.strip_prefix(&outbox_prefix(user))?.to_string();
    match new_value {
        Some(json) => {
            let p = serde_json::from_str::<PendingMessage>(&json).ok()?;
            KNOWN.with(|k| k.borrow_mut().insert(id, json));
            Some(Ok(p))
        }
        None => {
            KNOWN.with(|k| k.borrow_mut().remove(&id));
            Some(Err(id))
        }
    }
}

fn read_lease(st: &web_sys::Storage, user: UserId) -> Option<Lease> {
    let json = st.get_item(&lease_key(user)).ok().flatten()?;
    serde_json::from_str(&json).ok()
}

/// Takes or renews the sending lease if free (or, with `claim`, in any case: the user pressed
/// Send here) and says whether this tab holds it now. Without localStorage every tab sends.
pub fn hold_lease(user: UserId, now: i64, claim: bool) -> bool {
    let Some(st) = local() else {
        return true;
    };
    TAB.with(|me| {
        let current = read_lease(&st, user);
        if let Some(next) = lease::next_lease(now, current.as_ref(), me, claim) {
            if let Ok(json) = serde_json::to_string(&next) {
                let _ = st.set_item(&lease_key(user), &json);
            }
        }
        lease::holds(now, read_lease(&st, user).as_ref(), me)
    })
}

/// Gives the lease up at once (the tab is going away), so another tab takes over without
/// waiting for it to lapse.
pub fn release_lease(user: UserId) {
    let Some(st) = local() else {
        return;
    };
    TAB.with(|me| {
        if read_lease(&st, user).is_some_and(|l| &l.tab == me) {
            let _ = st.remove_item(&lease_key(user));
        }
    });
}

pub fn draft(user: UserId, conversation: ConversationId) -> String {
    local()
        .and_then(|st| st.get_item(&draft_key(user, conversation)).ok().flatten())
        .unwrap_or_default()
}

pub fn set_draft(user: UserId, conversation: ConversationId, text: &str) {
    if let Some(st) = local() {
        let key = draft_key(user, conversation);
        let _ = if text.is_empty() {
            st.remove_item(&key)
        } else {
            st.set_item(&key, text)
        };
    }
}

/// Explicit logout: this user's outbox, lease and drafts go.
pub fn forget_user(user: UserId) {
    let Some(st) = local() else {
        return;
    };
    for prefix in [outbox_prefix(user), format!("courier.draft.{user}.")] {
        for key in keys_with_prefix(&st, &prefix) {
            let _ = st.remove_item(&key);
        }
    }
    let _ = st.remove_item(&lease_key(user));
    KNOWN.with(|k| k.borrow_mut().clear());
}
