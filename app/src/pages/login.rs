//! `/login` (`?next=/c/12`: where to go once logged in).

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{
    all_valid, aria_invalid, described_by, leave_when_logged_in, next_path, place_error, with_next,
    Field, FieldError,
};
use crate::api::{self, ApiError};
use crate::components::LangSwitch;
use crate::i18n::{api_error_text, use_i18n};
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
                    <input
                        id="login-username"
                        type="text"
                        name="username"
                        data-testid="login-username"
                        autocomplete="username"
                        autocapitalize="none"
                        required
                        node_ref=username.node
                        aria-invalid=aria_invalid(username)
                        aria-describedby=described_by(username, USERNAME_ERROR)
                        prop:value=move || username.value.get()
                        on:input=move |ev| username.on_input(event_target_value(&ev))
                        on:blur=move |_| username.on_blur()
                    />
                    <FieldError field=username id=USERNAME_ERROR />
                </div>
                <div class="field">
                    <label for="login-password">{move || i18n.t().password}</label>
                    <input
                        id="login-password"
                        type="password"
                        name="password"
                        data-testid="login-password"
                        autocomplete="current-password"
                        required
                        node_ref=password.node
                        aria-invalid=aria_invalid(password)
                        aria-describedby=described_by(password, PASSWORD_ERROR)
                        prop:value=move || password.value.get()
                        on:input=move |ev| password.on_input(event_target_value(&ev))
                        on:blur=move |_| password.on_blur()
                    />
                    <FieldError field=password id=PASSWORD_ERROR />
                </div>
                {move || {
                    error
                        .get()
                        .map(|e| {
                            view! {
                                <p class="form-error" data-testid="login-error" role="alert">
                                    {move || api_error_text(i18n.t(), &e)}
                                </p>
                            }
                        })
                }}
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
