//! One module per route, and what the forms share: per-field checks with the server's rules
//! ([`Field`]) and the `?next=` return path of the login and register pages.

pub mod chat;
pub mod login;
pub mod message_test;
pub mod register;

use leptos::html;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::api::ApiError;
use crate::i18n::{api_error_text, rule_text, use_i18n};
use crate::state::use_app;
use crate::store::Phase;
use crate::validate::{self, FieldKey, Rule};

/// Sends a logged-in user away from the login and register pages: to `next` when it is a path
/// of this site, else to the chat.
fn leave_when_logged_in(next: Memo<Option<String>>) {
    let app = use_app();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if app.phase.get() == Phase::LoggedIn {
            let to = next.get_untracked().unwrap_or_else(|| "/".into());
            navigate(
                &to,
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });
}

/// The page's `?next=`, if it is a path of this site (see [`validate::local_path`]).
fn next_path() -> Memo<Option<String>> {
    let query = use_query_map();
    Memo::new(move |_| {
        query
            .with(|q| q.get("next"))
            .and_then(|n| validate::local_path(&n).map(str::to_string))
    })
}

/// `page` (`/login`, `/register`) carrying `next` along.
pub(crate) fn with_next(page: &str, next: Option<String>) -> String {
    match next {
        Some(n) => format!("{page}?next={}", js_sys::encode_uri_component(&n)),
        None => page.to_string(),
    }
}

/// One input of a form: its value, the client's check of the server's rule for it, and the
/// server's refusal. The error shows once the field was left with something in it, or at
/// submit; it follows the value from then on, and a server refusal lasts until the next edit.
#[derive(Clone, Copy)]
pub struct Field {
    pub value: RwSignal<String>,
    /// The request field's wire name (`username`), to place the server's refusals.
    name: &'static str,
    key: FieldKey,
    touched: RwSignal<bool>,
    server: RwSignal<Option<Rule>>,
    check: Signal<Option<Rule>>,
    pub node: NodeRef<html::Input>,
}

impl Field {
    pub fn new(
        name: &'static str,
        check: impl Fn(&str) -> Result<(), Rule> + Send + Sync + 'static,
    ) -> Field {
        let value = RwSignal::new(String::new());
        Field::checked_by(name, value, move || value.with(|v| check(v).err()))
    }

    /// A field whose check reads other fields too (a password that must not be the username).
    pub fn checked_by(
        name: &'static str,
        value: RwSignal<String>,
        check: impl Fn() -> Option<Rule> + Send + Sync + 'static,
    ) -> Field {
        Field {
            value,
            name,
            key: FieldKey::parse(name),
            touched: RwSignal::new(false),
            server: RwSignal::new(None),
            check: Signal::derive(check),
            node: NodeRef::new(),
        }
    }

    /// The rule to show as broken, if any (reactive).
    pub fn error(&self) -> Option<Rule> {
        if self.touched.get() {
            if let Some(r) = self.check.get() {
                return Some(r);
            }
        }
        self.server.get()
    }

    pub fn on_input(&self, v: String) {
        self.value.set(v);
        self.server.set(None);
    }

    pub fn on_blur(&self) {
        if !self.value.with_untracked(String::is_empty) {
            self.touched.set(true);
        }
    }

    /// At submit: shows its error from now on; whether it passes the client's check.
    fn submit_ok(&self) -> bool {
        self.touched.set(true);
        self.check.get_untracked().is_none() && self.server.get_untracked().is_none()
    }

    fn focus(&self) {
        if let Some(el) = self.node.get_untracked() {
            let _ = el.focus();
        }
    }

    pub fn clear(&self) {
        self.value.set(String::new());
        self.touched.set(false);
        self.server.set(None);
    }
}

/// Marks every field for display and says whether all pass; focuses the first that does not.
/// A form sends nothing while this is false.
pub fn all_valid(fields: &[Field]) -> bool {
    let mut ok = true;
    for f in fields {
        if !f.submit_ok() && ok {
            ok = false;
            f.focus();
        }
    }
    ok
}

/// Puts a server refusal (`invalid_input` with a `field` and `rule`) on the field it names.
/// Anything else is returned for the form's own error line.
pub fn place_error(e: ApiError, fields: &[Field]) -> Option<ApiError> {
    if let ApiError::Server { error, .. } = &e {
        if error.code == "invalid_input" {
            let rule = error.rule.as_deref().and_then(Rule::parse);
            let field = fields
                .iter()
                .find(|f| Some(f.name) == error.field.as_deref());
            if let (Some(f), Some(rule)) = (field, rule) {
                f.server.set(Some(rule));
                f.touched.set(true);
                f.focus();
                return None;
            }
        }
    }
    Some(e)
}

/// The error line under a field; its `id` (also its `data-testid`) is what the input's
/// `aria-describedby` names.
#[component]
pub fn FieldError(field: Field, id: &'static str) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        field.error().map(|rule| {
            view! {
                // role="alert": a screen reader announces the line when it appears.
                <p class="field-error" id=id data-testid=id role="alert">
                    <svg
                        class="field-error-icon"
                        viewBox="0 0 24 24"
                        width="14"
                        height="14"
                        aria-hidden="true"
                        fill="none"
                        stroke="currentColor"
                        stroke-width="2.4"
                        stroke-linecap="round"
                    >
                        <circle cx="12" cy="12" r="10" />
                        <path d="M12 7v6" />
                        <path d="M12 16.5v.5" />
                    </svg>
                    <span>{move || rule_text(i18n.t(), field.key, rule)}</span>
                </p>
            }
        })
    }
}

/// The input of a [`Field`] with its error line: value, blur, `aria-invalid` and
/// `aria-describedby` wired the same way in every form. `id` is also its `data-testid` (and the
/// label's `for`); the request field's wire name is its `name`.
#[component]
pub fn FieldInput(
    field: Field,
    id: &'static str,
    error_id: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(optional)] required: bool,
    #[prop(optional)] maxlength: Option<usize>,
    #[prop(optional)] autocapitalize: Option<&'static str>,
    #[prop(optional, into)] placeholder: Option<Signal<&'static str>>,
) -> impl IntoView {
    view! {
        <input
            id=id
            type=kind
            name=field.name
            data-testid=id
            autocomplete=autocomplete
            autocapitalize=autocapitalize
            required=required
            maxlength=maxlength.map(|m| m.to_string())
            placeholder=move || placeholder.map(|p| p.get())
            node_ref=field.node
            aria-invalid=aria_invalid(field)
            aria-describedby=described_by(field, error_id)
            prop:value=move || field.value.get()
            on:input=move |ev| field.on_input(event_target_value(&ev))
            on:blur=move |_| field.on_blur()
        />
        <FieldError field=field id=error_id />
    }
}

/// A form's refusal by the server (taken username, wrong password, rate limit…), worded from
/// its code in the user's language.
#[component]
pub fn FormError(error: RwSignal<Option<ApiError>>, testid: &'static str) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        error.get().map(|e| {
            view! {
                <p class="form-error" data-testid=testid role="alert">
                    {move || api_error_text(i18n.t(), &e)}
                </p>
            }
        })
    }
}

/// `aria-invalid` of a field's input.
pub fn aria_invalid(field: Field) -> impl Fn() -> Option<&'static str> + Send + Sync {
    move || field.error().map(|_| "true")
}

/// `aria-describedby` of a field's input: its error line, while there is one.
pub fn described_by(
    field: Field,
    id: &'static str,
) -> impl Fn() -> Option<&'static str> + Send + Sync {
    move || field.error().map(|_| id)
}
