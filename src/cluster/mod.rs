//! Running several Courier nodes as one service: each node's identity, and the fan-out that
//! carries live frames between nodes over core NATS ([`nats::NatsFanout`]).
//!
//! The database stays the only source of truth. NATS only wakes the node that holds a user's
//! connections; it is at-most-once, so anything it loses is still pending in the database and
//! reaches the user by the replay on connect, the sweep, or a `sync` after a seq gap.

pub mod nats;

/// This node's id: random per start, so connection ids (which carry it) never collide across
/// the cluster or across restarts. 20 bits, so `node << 32 | counter` stays a safe JavaScript
/// integer.
pub fn new_node_id() -> u32 {
    use rand::Rng;
    rand::thread_rng().gen_range(1..(1 << 20))
}
