//! The pipelined sender shared by the scenarios: keeps up to `window` sends outstanding on one
//! WebSocket and checks every `sent` acknowledgement.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use app::model::{ConversationId, MessageId, Seq, UserId};
use app::protocol::{ClientFrame, ServerFrame};
use futures_util::SinkExt;

use crate::client::{content, deadline_in, encode, recv, Ws};
use crate::report::Checks;

pub struct SendJob {
    pub conversation: ConversationId,
    /// client_msg_id = `<prefix>-<n>`; the content starts with the client_msg_id.
    pub prefix: String,
    pub count: usize,
    pub window: usize,
    pub content_bytes: usize,
}

impl SendJob {
    pub fn client_msg_id(&self, n: usize) -> String {
        format!("{}-{n}", self.prefix)
    }
}

/// Parses `<prefix>-<n>` back into n.
pub fn parse_cmid(prefix: &str, cmid: &str) -> Option<usize> {
    let (p, n) = cmid.rsplit_once('-')?;
    if p != prefix {
        return None;
    }
    n.parse().ok()
}

pub struct SendResult {
    /// Seq the server gave message n (0: not acknowledged).
    pub seqs: Vec<Seq>,
    pub ids: Vec<MessageId>,
    /// `message` frames seen on this socket (echoes of the user's sends on other sockets).
    pub echoes: u64,
    pub acknowledged: usize,
    pub checks: Checks,
    pub finished: Instant,
}

/// Sends `job.count` messages with at most `job.window` unacknowledged, until every one has its
/// `sent` (or an error). Never waits more than `idle_timeout` for a frame.
pub async fn send_pipelined(
    ws: &mut Ws,
    sender: UserId,
    job: &SendJob,
    progress: &AtomicU64,
    idle_timeout: Duration,
) -> SendResult {
    let mut r = SendResult {
        seqs: vec![0; job.count],
        ids: vec![0; job.count],
        echoes: 0,
        acknowledged: 0,
        checks: Checks::default(),
        finished: Instant::now(),
    };
    let window = job.window.max(1);
    let (mut next, mut done, mut in_flight) = (0usize, 0usize, 0usize);
    while done < job.count {
        if next < job.count && in_flight < window {
            while next < job.count && in_flight < window {
                let cmid = job.client_msg_id(next);
                let f = ClientFrame::Send {
                    content: content(&cmid, job.content_bytes),
                    client_msg_id: cmid,
                    conversation_id: job.conversation,
                };
                if let Err(e) = ws.feed(encode(&f)).await {
                    r.checks.fail(format!("{}: send failed: {e}", job.prefix));
                    return r;
                }
                next += 1;
                in_flight += 1;
            }
            if let Err(e) = ws.flush().await {
                r.checks.fail(format!("{}: send failed: {e}", job.prefix));
                return r;
            }
        }
        match recv(ws, deadline_in(idle_timeout)).await {
            Ok(ServerFrame::Sent {
                client_msg_id,
                message,
                duplicate,
            }) => {
                in_flight = in_flight.saturating_sub(1);
                done += 1;
                let Some(n) = parse_cmid(&job.prefix, &client_msg_id).filter(|n| *n < job.count)
                else {
                    r.checks.fail(format!(
                        "`sent` for an unknown client_msg_id {client_msg_id}"
                    ));
                    continue;
                };
                if duplicate {
                    r.checks.fail(format!(
                        "{client_msg_id}: server says duplicate, but it was sent once"
                    ));
                }
                if r.seqs[n] != 0 {
                    r.checks
                        .fail(format!("{client_msg_id}: acknowledged twice"));
                    continue;
                }
                if message.conversation_id != job.conversation
                    || message.sender_id != sender
                    || message.client_msg_id != client_msg_id
                {
                    r.checks.fail(format!(
                        "{client_msg_id}: acknowledgement describes another message: {message:?}"
                    ));
                }
                if message.seq <= 0 {
                    r.checks
                        .fail(format!("{client_msg_id}: invalid seq {}", message.seq));
                }
                r.seqs[n] = message.seq;
                r.ids[n] = message.id;
                r.acknowledged += 1;
                progress.fetch_add(1, Ordering::Relaxed);
            }
            Ok(ServerFrame::Error {
                code,
                message,
                client_msg_id,
                ..
            }) => {
                r.checks.fail(format!(
                    "{}: server error {code}: {message} (client_msg_id {client_msg_id:?})",
                    job.prefix
                ));
                if client_msg_id.is_some() {
                    in_flight = in_flight.saturating_sub(1);
                    done += 1;
                }
            }
            Ok(ServerFrame::Message { .. }) => r.echoes += 1,
            Ok(_) => {}
            Err(e) => {
                r.checks.fail(format!(
                    "{}: {e} after {done}/{} acknowledgements",
                    job.prefix, job.count
                ));
                break;
            }
        }
    }
    r.finished = Instant::now();
    r
}

/// Checks that the seqs the server assigned to one sender's messages in a conversation nobody
/// else writes to are exactly 1..=count in sending order.
pub fn check_sender_seqs(job: &SendJob, seqs: &[Seq], checks: &mut Checks) {
    for (n, s) in seqs.iter().enumerate() {
        if *s != 0 && *s != n as Seq + 1 {
            checks.fail(format!(
                "{}: message {n} got seq {s}, expected {}",
                job.prefix,
                n + 1
            ));
            return;
        }
    }
}
