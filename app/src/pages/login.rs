//! `/login` (`?next=/c/12`: where to go once logged in).

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{
    all_valid, leave_when_logged_in, next_path, place_error, with_next, Field, FieldInput,
    FormError,
};
use crate::api::{self, ApiError};
use crate::components::LangSwitch;
use crate::i18n::use_i18n;
use crate::model::LoginRequest;
use crate::state::use_app;
use crate::validate;

const USERNAME_ERROR: &str = "login-username-error";
const PASSWORD_ERROR: &str = "login-password-error";

#[component]
pub fn LoginPage() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let next = next_path();
    leave_when_logged_in(next);
    let username = Field::new("username", validate::login_field);
    // A password may be spaces; only an empty one is refused.
    let password = Field::new("password", |p| {
        if p.is_empty() {
            Err(validate::Rule::Required)
        } else {
            Ok(())
        }
    });
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        error.set(None);
        if !all_valid(&[username, password]) {
            return;
        }
        busy.set(true);
        let req = LoginRequest {
            username: username.value.get_untracked().trim().to_string(),
            password: password.value.get_untracked(),
        };
        spawn_local(async move {
            match api::login(&req).await {
                Ok(user) => app.logged_in(user),
                Err(e) => error.set(place_error(e, &[username, password])),
            }
            busy.set(false);
        });
    };

    view! {
        <main class="auth-page">
            <div class="auth-top">
                <span class="brand">"Courier"</span>
                <LangSwitch />
            </div>
            <form class="auth-card" data-testid="login-form" novalidate on:submit=submit>
                <h1>{move || i18n.t().login_title}</h1>
                <div class="field">
                    <label for="login-username">{move || i18n.t().username}</label>
                    <FieldInput
                        field=username
                        id="login-username"
                        error_id=USERNAME_ERROR
                        autocomplete="username"
                        autocapitalize="none"
                        required=true
                    />
                </div>
                <div class="field">
                    <label for="login-password">{move || i18n.t().password}</label>
                    <FieldInput
                        field=password
                        id="login-password"
                        error_id=PASSWORD_ERROR
                        kind="password"
                        autocomplete="current-password"
                        required=true
                    />
                </div>
                <FormError error=error testid="login-error" />
                <button type="submit" class="primary-button" data-testid="login-submit" disabled=move || busy.get()>
                    {move || if busy.get() { i18n.t().logging_in } else { i18n.t().login }}
                </button>
                <a href=move || with_next("/register", next.get()) class="auth-switch" data-testid="go-register">
                    {move || i18n.t().no_account}
                </a>
            </form>
        </main>
    }
}
