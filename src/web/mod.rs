//! What both web adapters — the HTTP API (`http`) and the WebSocket endpoint (`ws`) — need from
//! a browser request: who is asking (the session cookie, [`session`]) and from which page
//! ([`origin`]). It lives beside them rather than inside either, so `http` and `ws` never
//! import each other.

pub mod origin;
pub mod session;
