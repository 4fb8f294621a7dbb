//! Courier's app crate.
//!
//! Without features it is the part both sides share: the wire types ([`model`], [`protocol`]),
//! the pure client store ([`store`]) and the input rules ([`validate`]), which the server links
//! and host tests exercise.
//! With the `csr` feature it is also the Leptos browser client that Trunk builds.

pub mod highlight;
pub mod linkify;
pub mod model;
pub mod protocol;
pub mod rtt;
pub mod store;
pub mod validate;

#[cfg(feature = "csr")]
pub mod api;
#[cfg(feature = "csr")]
pub mod components;
#[cfg(feature = "csr")]
pub mod i18n;
#[cfg(feature = "csr")]
pub mod notify;
#[cfg(feature = "csr")]
pub mod pages;
#[cfg(feature = "csr")]
pub mod persist;
#[cfg(feature = "csr")]
mod root;
#[cfg(feature = "csr")]
pub mod socket;
#[cfg(feature = "csr")]
pub mod state;
#[cfg(feature = "csr")]
pub use root::App;
