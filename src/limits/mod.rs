//! Limits any layer may put on a key (a user, a client address, a connection): the token
//! bucket ([`token_bucket`]) and the bounded map its keyed form keeps its buckets in
//! ([`bounded`]), which the login throttle uses too. A leaf module like `clock.rs`: it imports
//! nothing of the crate, so accounts, the engine and the adapters can all use it without
//! depending on each other.

pub mod bounded;
pub mod token_bucket;

pub use bounded::BoundedMap;
pub use token_bucket::{Bucket, Limit, RetryAfter, TokenBuckets};
