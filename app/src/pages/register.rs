//! `/register` (`?next=` as on `/login`).

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{
    all_valid, aria_invalid, described_by, leave_when_logged_in, next_path, place_error, with_next,
    Field, FieldError,
};
use crate::api::{self, ApiError};
use crate::components::LangSwitch;
use crate::i18n::{api_error_text, use_i18n};
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
                    <input
                        id="register-username"
                        type="text"
                        name="username"
                        data-testid="register-username"
                        autocomplete="username"
                        autocapitalize="none"
                        required
                        maxlength=USERNAME_MAX.to_string()
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
                    <label for="register-display-name">{move || i18n.t().display_name}</label>
                    <input
                        id="register-display-name"
                        type="text"
                        name="display_name"
                        data-testid="register-display-name"
                        autocomplete="nickname"
                        maxlength=DISPLAY_NAME_MAX.to_string()
                        placeholder=move || i18n.t().display_name_hint
                        node_ref=display_name.node
                        aria-invalid=aria_invalid(display_name)
                        aria-describedby=described_by(display_name, DISPLAY_NAME_ERROR)
                        prop:value=move || display_name.value.get()
                        on:input=move |ev| display_name.on_input(event_target_value(&ev))
                        on:blur=move |_| display_name.on_blur()
                    />
                    <FieldError field=display_name id=DISPLAY_NAME_ERROR />
                </div>
                <div class="field">
                    <label for="register-password">{move || i18n.t().password}</label>
                    <input
                        id="register-password"
                        type="password"
                        name="password"
                        data-testid="register-password"
                        autocomplete="new-password"
                        required
                        maxlength=PASSWORD_MAX.to_string()
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
                                <p class="form-error" data-testid="register-error" role="alert">
                                    {move || api_error_text(i18n.t(), &e)}
                                </p>
                            }
                        })
                }}
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
