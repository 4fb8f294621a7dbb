//! One module per route.

pub mod chat;
pub mod login;
pub mod message_test;
pub mod register;

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

use crate::api::ApiError;
use crate::i18n::Strings;
use crate::state::{use_app, Auth};

/// Sends a logged-in user away from the login and register pages.
fn leave_when_logged_in() {
    let app = use_app();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if matches!(app.auth.get(), Auth::LoggedIn(_)) {
            navigate(
                "/",
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });
}

/// The user-facing text of an auth failure.
fn auth_error_text(t: &Strings, e: &ApiError) -> String {
    match e.code() {
        Some("invalid_credentials") => t.err_invalid_credentials.to_string(),
        Some("username_taken") => t.err_username_taken.to_string(),
        _ => match e {
            ApiError::Network(_) => t.err_network.to_string(),
            other => other.to_string(),
        },
    }
}
