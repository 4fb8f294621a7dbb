//! `/login`.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{auth_error_text, leave_when_logged_in};
use crate::api;
use crate::components::LangSwitch;
use crate::i18n::use_i18n;
use crate::model::LoginRequest;
use crate::state::use_app;

#[component]
pub fn LoginPage() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    leave_when_logged_in();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let req = LoginRequest {
            username: username.get_untracked().trim().to_string(),
            password: password.get_untracked(),
        };
        spawn_local(async move {
            match api::login(&req).await {
                Ok(user) => app.logged_in(user),
                Err(e) => error.set(Some(auth_error_text(
                    i18n.lang.get_untracked().strings(),
                    &e,
                ))),
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
                <label class="field">
                    <span>{move || i18n.t().username}</span>
                    <input
                        type="text"
                        name="username"
                        data-testid="login-username"
                        autocomplete="username"
                        autocapitalize="none"
                        required
                        prop:value=move || username.get()
                        on:input=move |ev| username.set(event_target_value(&ev))
                    />
                </label>
                <label class="field">
                    <span>{move || i18n.t().password}</span>
                    <input
                        type="password"
                        name="password"
                        data-testid="login-password"
                        autocomplete="current-password"
                        required
                        prop:value=move || password.get()
                        on:input=move |ev| password.set(event_target_value(&ev))
                    />
                </label>
                {move || {
                    error.get().map(|e| view! { <p class="form-error" data-testid="login-error" role="alert">{e}</p> })
                }}
                <button type="submit" class="primary-button" data-testid="login-submit" disabled=move || busy.get()>
                    {move || if busy.get() { i18n.t().logging_in } else { i18n.t().login }}
                </button>
                <a href="/register" class="auth-switch" data-testid="go-register">
                    {move || i18n.t().no_account}
                </a>
            </form>
        </main>
    }
}
