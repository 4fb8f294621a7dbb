//! Changes to existing messages — a recall today; edits and reactions next — go the way sends
//! go: queued to the one writer ([`super::batcher`]), applied in its batch's transaction (each
//! taking its conversation's next rev, once per client op id), and told to every member's
//! connections right after the commit, in rev order, untracked: a device that misses the
//! frame finds the change by `sync` from its rev (a gap, a `heads` frame, or its next
//! connection), never through a push record.

use app::model::User;
use app::validate::Rule;

use super::batcher::outcome;
use super::retry::current_state_frame;
use super::{Delivery, Fanout};
use crate::clock::now_ms;
use crate::error::{AppError, AppResult};
use crate::store::{Change, ChangeOutcome, ChangeRequest};

/// The longest client op id accepted.
pub const MAX_CLIENT_OP_ID: usize = 64;

/// Right after the commit: every member's connections hear of an applied change. Not
/// `deliver_to_user`: that would track the message id in flight and, without an ack in time,
/// mark the member's record of the message failed — a record the change has nothing to do with.
pub fn push_changed(fanout: &dyn Fanout, outcome: &ChangeOutcome) {
    if let ChangeOutcome::Applied { message, members } = outcome {
        let f = current_state_frame(message.clone(), now_ms());
        for &member in members {
            fanout.send_to_user(member, &f, None);
        }
    }
}

/// A client op id as given, or the one a change without it gets: the same for every retry of
/// the same change (a recall of message 42 is `recall:42`), so it still applies once.
pub fn op_id(given: Option<&str>, change: &Change) -> AppResult<String> {
    match given {
        None => Ok(match change {
            Change::Recall { message_id, .. } => format!("recall:{message_id}"),
        }),
        Some(id) if id.is_empty() || id.len() > MAX_CLIENT_OP_ID => Err(AppError::invalid(
            "client_op_id",
            Rule::Length,
            format!("client_op_id must be 1 to {MAX_CLIENT_OP_ID} characters"),
        )),
        Some(id) if !id.chars().all(|c| c.is_ascii_graphic()) => Err(AppError::invalid(
            "client_op_id",
            Rule::Charset,
            "client_op_id must be printable ASCII without spaces",
        )),
        Some(id) => Ok(id.to_string()),
    }
}

impl Delivery {
    /// Queues a change and waits for its commit.
    pub(crate) async fn change(
        &self,
        by: &User,
        client_op_id: Option<&str>,
        change: Change,
    ) -> AppResult<ChangeOutcome> {
        let client_op_id = op_id(client_op_id, &change)?;
        let pending = self
            .batcher
            .enqueue_change(ChangeRequest {
                actor: by.id,
                client_op_id,
                change,
            })
            .await?;
        let done = outcome(pending).await?;
        if let ChangeOutcome::Failed(e) = &done {
            return Err(AppError::Internal(anyhow::anyhow!(
                "applying a change failed: {e}"
            )));
        }
        Ok(done)
    }
}
