//! Find a user and start (or reopen) the 1:1 conversation with them.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::i18n::{api_error_text, use_i18n};
use crate::model::User;
use crate::state::use_app;

/// Typing pauses this long before a search goes out.
const DEBOUNCE: Duration = Duration::from_millis(250);

#[component]
pub fn UserSearch() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let query = RwSignal::new(String::new());
    let results = RwSignal::new(None::<Vec<User>>);
    let error = RwSignal::new(None::<String>);

    let on_input = move |ev: leptos::ev::Event| {
        let q = event_target_value(&ev);
        query.set(q.clone());
        if q.trim().is_empty() {
            results.set(None);
            return;
        }
        spawn_local(async move {
            gloo_timers::future::sleep(DEBOUNCE).await;
            // Only the latest query counts; an answer to an older one is dropped.
            if query.get_untracked() != q {
                return;
            }
            let found = api::search_users(q.trim(), 20).await;
            if query.get_untracked() != q {
                return;
            }
            match found {
                Ok(users) => {
                    error.set(None);
                    results.set(Some(users));
                }
                Err(e) => error.set(Some(api_error_text(
                    i18n.lang.get_untracked().strings(),
                    &e,
                ))),
            }
        });
    };

    let start = move |user: User| {
        spawn_local(async move {
            match app.start_direct(user.id).await {
                Ok(_) => {
                    query.set(String::new());
                    results.set(None);
                }
                Err(e) => error.set(Some(api_error_text(
                    i18n.lang.get_untracked().strings(),
                    &e,
                ))),
            }
        });
    };

    view! {
        <div class="user-search" role="search" aria-label=move || i18n.t().search_users>
            <input
                type="search"
                class="search-input"
                data-testid="user-search-input"
                placeholder=move || i18n.t().search_users
                aria-label=move || i18n.t().search_users
                autocomplete="off"
                prop:value=move || query.get()
                on:input=on_input
            />
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            {move || {
                results
                    .get()
                    .map(|users| {
                        if users.is_empty() {
                            view! { <p class="empty-hint">{move || i18n.t().no_users_found}</p> }.into_any()
                        } else {
                            view! {
                                <ul class="search-results">
                                    {users
                                        .into_iter()
                                        .map(|u| {
                                            let label = u.display_name.clone();
                                            let username = u.username.clone();
                                            view! {
                                                <li>
                                                    <button
                                                        type="button"
                                                        class="search-result"
                                                        data-testid="user-search-result"
                                                        data-username=u.username.clone()
                                                        on:click=move |_| start(u.clone())
                                                    >
                                                        <span class="result-name">{label}</span>
                                                        <span class="result-username">"@"{username}</span>
                                                    </button>
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ul>
                            }
                                .into_any()
                        }
                    })
            }}
        </div>
    }
}
