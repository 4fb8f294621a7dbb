//! Create a group: a title and members picked from known contacts and a user search.

use std::collections::BTreeMap;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::i18n::use_i18n;
use crate::model::{User, UserId, GROUP_TITLE_MAX};
use crate::state::use_app;

const DEBOUNCE: Duration = Duration::from_millis(250);
const CANDIDATES: u32 = 50;

#[component]
pub fn GroupForm() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let open = RwSignal::new(false);
    let title = RwSignal::new(String::new());
    let filter = RwSignal::new(String::new());
    let found = RwSignal::new(Vec::<User>::new());
    // Chosen members stay chosen while the filter changes.
    let selected = RwSignal::new(BTreeMap::<UserId, User>::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let search = move |q: String| {
        spawn_local(async move {
            gloo_timers::future::sleep(DEBOUNCE).await;
            if filter.get_untracked() != q {
                return;
            }
            match api::search_users(q.trim(), CANDIDATES).await {
                Ok(users) if filter.get_untracked() == q => found.set(users),
                Ok(_) => {}
                Err(e) => app.notice.set(Some(e.to_string())),
            }
        });
    };

    // Candidates: the search answer, plus people I already talk to, plus whoever is chosen.
    let candidates = Memo::new(move |_| {
        let f = filter.get().trim().to_lowercase();
        let mut all = BTreeMap::<UserId, User>::new();
        for u in found.get() {
            all.insert(u.id, u);
        }
        app.store.with(|s| {
            let me = s.me_id();
            for c in s.conversations.values() {
                for m in c.info.members.iter().filter(|m| Some(m.user_id) != me) {
                    let matches = f.is_empty()
                        || m.username.to_lowercase().contains(&f)
                        || m.display_name.to_lowercase().contains(&f);
                    if matches {
                        all.entry(m.user_id).or_insert_with(|| User {
                            id: m.user_id,
                            username: m.username.clone(),
                            display_name: m.display_name.clone(),
                            created_at: 0,
                        });
                    }
                }
            }
        });
        for (id, u) in selected.get() {
            all.entry(id).or_insert(u);
        }
        let mut v: Vec<User> = all.into_values().collect();
        v.sort_by(|a, b| a.username.cmp(&b.username));
        v
    });

    let toggle_open = move |_| {
        let now_open = !open.get_untracked();
        open.set(now_open);
        error.set(None);
        if now_open {
            search(filter.get_untracked());
        }
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let t = i18n.t();
        let name = title.get_untracked().trim().to_string();
        let ids: Vec<UserId> = selected.with_untracked(|s| s.keys().copied().collect());
        if name.is_empty() {
            return error.set(Some(t.group_needs_title.into()));
        }
        if ids.is_empty() {
            return error.set(Some(t.group_needs_members.into()));
        }
        busy.set(true);
        spawn_local(async move {
            match app.create_group(name, ids).await {
                Ok(_) => {
                    open.set(false);
                    title.set(String::new());
                    filter.set(String::new());
                    selected.set(BTreeMap::new());
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };

    view! {
        <div class="group-create">
            <button
                type="button"
                class="secondary-button"
                data-testid="new-group-button"
                aria-expanded=move || open.get().to_string()
                on:click=toggle_open
            >
                {move || i18n.t().new_group}
            </button>
            <Show when=move || open.get()>
                <form class="group-form" on:submit=submit>
                    <label class="field">
                        <span>{move || i18n.t().group_title}</span>
                        <input
                            type="text"
                            data-testid="group-title-input"
                            maxlength=GROUP_TITLE_MAX.to_string()
                            prop:value=move || title.get()
                            on:input=move |ev| title.set(event_target_value(&ev))
                        />
                    </label>
                    <fieldset class="member-picker">
                        <legend>{move || i18n.t().group_members}</legend>
                        <input
                            type="search"
                            class="search-input"
                            placeholder=move || i18n.t().group_filter
                            aria-label=move || i18n.t().group_filter
                            prop:value=move || filter.get()
                            on:input=move |ev| {
                                let q = event_target_value(&ev);
                                filter.set(q.clone());
                                search(q);
                            }
                        />
                        <ul class="member-options">
                            <For
                                each=move || candidates.get()
                                key=|u| u.id
                                children=move |u: User| {
                                    let id = u.id;
                                    let user = u.clone();
                                    view! {
                                        <li>
                                            <label class="member-option">
                                                <input
                                                    type="checkbox"
                                                    data-testid="group-member-option"
                                                    data-username=u.username.clone()
                                                    prop:checked=move || selected.with(|s| s.contains_key(&id))
                                                    on:change=move |ev| {
                                                        let on = event_target_checked(&ev);
                                                        selected.update(|s| {
                                                            if on {
                                                                s.insert(id, user.clone());
                                                            } else {
                                                                s.remove(&id);
                                                            }
                                                        });
                                                    }
                                                />
                                                <span>{u.display_name.clone()}</span>
                                                <span class="result-username">"@"{u.username.clone()}</span>
                                            </label>
                                        </li>
                                    }
                                }
                            />
                        </ul>
                    </fieldset>
                    {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                    <div class="form-actions">
                        <button
                            type="submit"
                            class="primary-button"
                            data-testid="group-create-submit"
                            disabled=move || busy.get()
                        >
                            {move || i18n.t().create_group}
                        </button>
                        <button type="button" class="secondary-button" on:click=move |_| open.set(false)>
                            {move || i18n.t().cancel}
                        </button>
                    </div>
                </form>
            </Show>
        </div>
    }
}
