//! `/register`.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{auth_error_text, leave_when_logged_in};
use crate::api;
use crate::components::LangSwitch;
use crate::i18n::use_i18n;
use crate::model::{
    RegisterRequest, DISPLAY_NAME_MAX, PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX, USERNAME_MIN,
};
use crate::state::use_app;

#[component]
pub fn RegisterPage() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    leave_when_logged_in();
    let username = RwSignal::new(String::new());
    let display_name = RwSignal::new(String::new());
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
        let name = display_name.get_untracked().trim().to_string();
        let req = RegisterRequest {
            username: username.get_untracked().trim().to_string(),
            password: password.get_untracked(),
            display_name: (!name.is_empty()).then_some(name),
        };
        spawn_local(async move {
            match api::register(&req).await {
                Ok(user) => app.logged_in(user),
                Err(e) => {
                    let t = i18n.lang.get_untracked().strings();
                    let text = match e.field() {
                        Some(field) if e.code() != Some("username_taken") => {
                            format!("{field}: {}", auth_error_text(t, &e))
                        }
                        _ => auth_error_text(t, &e),
                    };
                    error.set(Some(text));
                }
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
            <form class="auth-card" data-testid="register-form" novalidate on:submit=submit>
                <h1>{move || i18n.t().register_title}</h1>
                <label class="field">
                    <span>{move || i18n.t().username}</span>
                    <input
                        type="text"
                        name="username"
                        data-testid="register-username"
                        autocomplete="username"
                        autocapitalize="none"
                        required
                        minlength=USERNAME_MIN.to_string()
                        maxlength=USERNAME_MAX.to_string()
                        prop:value=move || username.get()
                        on:input=move |ev| username.set(event_target_value(&ev))
                    />
                </label>
                <label class="field">
                    <span>{move || i18n.t().display_name}</span>
                    <input
                        type="text"
                        name="display_name"
                        data-testid="register-display-name"
                        autocomplete="nickname"
                        maxlength=DISPLAY_NAME_MAX.to_string()
                        placeholder=move || i18n.t().display_name_hint
                        prop:value=move || display_name.get()
                        on:input=move |ev| display_name.set(event_target_value(&ev))
                    />
                </label>
                <label class="field">
                    <span>{move || i18n.t().password}</span>
                    <input
                        type="password"
                        name="password"
                        data-testid="register-password"
                        autocomplete="new-password"
                        required
                        minlength=PASSWORD_MIN.to_string()
                        maxlength=PASSWORD_MAX.to_string()
                        prop:value=move || password.get()
                        on:input=move |ev| password.set(event_target_value(&ev))
                    />
                </label>
                {move || {
                    error.get().map(|e| view! { <p class="form-error" data-testid="register-error" role="alert">{e}</p> })
                }}
                <button type="submit" class="primary-button" data-testid="register-submit" disabled=move || busy.get()>
                    {move || if busy.get() { i18n.t().logging_in } else { i18n.t().register }}
                </button>
                <a href="/login" class="auth-switch" data-testid="go-login">
                    {move || i18n.t().have_account}
                </a>
            </form>
        </main>
    }
}
