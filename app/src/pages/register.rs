//! `/register` (`?next=` as on `/login`).

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{
    all_valid, leave_when_logged_in, next_path, place_error, with_next, Field, FieldInput,
    FormError,
};
use crate::api::{self, ApiError};
use crate::components::LangSwitch;
use crate::i18n::use_i18n;
use crate::model::{RegisterRequest, DISPLAY_NAME_MAX, PASSWORD_MAX, USERNAME_MAX};
use crate::state::use_app;
use crate::validate;

const USERNAME_ERROR: &str = "register-username-error";
const DISPLAY_NAME_ERROR: &str = "register-display-name-error";
const PASSWORD_ERROR: &str = "register-password-error";

#[component]
pub fn RegisterPage() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let next = next_path();
    leave_when_logged_in(next);
    let username = Field::new("username", |u| validate::username(u.trim()));
    let display_name = Field::new("display_name", |d| validate::display_name(d.trim()));
    let password_value = RwSignal::new(String::new());
    let password = Field::checked_by("password", password_value, move || {
        let u = username.value.get();
        password_value.with(|p| validate::new_password(p, u.trim()).err())
    });
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        error.set(None);
        let fields = [username, display_name, password];
        if !all_valid(&fields) {
            return;
        }
        busy.set(true);
        let name = display_name.value.get_untracked().trim().to_string();
        let req = RegisterRequest {
            username: username.value.get_untracked().trim().to_string(),
            password: password.value.get_untracked(),
            display_name: (!name.is_empty()).then_some(name),
        };
        spawn_local(async move {
            match api::register(&req).await {
                Ok(user) => app.logged_in(user),
                Err(e) => error.set(place_error(e, &fields)),
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
                <div class="field">
                    <label for="register-username">{move || i18n.t().username}</label>
                    <FieldInput
                        field=username
                        id="register-username"
                        error_id=USERNAME_ERROR
                        autocomplete="username"
                        autocapitalize="none"
                        required=true
                        maxlength=USERNAME_MAX
                    />
                </div>
                <div class="field">
                    <label for="register-display-name">{move || i18n.t().display_name}</label>
                    <FieldInput
                        field=display_name
                        id="register-display-name"
                        error_id=DISPLAY_NAME_ERROR
                        autocomplete="nickname"
                        maxlength=DISPLAY_NAME_MAX
                        placeholder=Signal::derive(move || i18n.t().display_name_hint)
                    />
                </div>
                <div class="field">
                    <label for="register-password">{move || i18n.t().password}</label>
                    <FieldInput
                        field=password
                        id="register-password"
                        error_id=PASSWORD_ERROR
                        kind="password"
                        autocomplete="new-password"
                        required=true
                        maxlength=PASSWORD_MAX
                    />
                </div>
                <FormError error=error testid="register-error" />
                <button type="submit" class="primary-button" data-testid="register-submit" disabled=move || busy.get()>
                    {move || if busy.get() { i18n.t().logging_in } else { i18n.t().register }}
                </button>
                <a href=move || with_next("/login", next.get()) class="auth-switch" data-testid="go-login">
                    {move || i18n.t().have_account}
                </a>
            </form>
        </main>
    }
}
