//! Create a group: a title and members picked from known contacts and a user search.

use std::collections::BTreeMap;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::i18n::{failure_text, rule_text, use_i18n};
use crate::model::{User, UserId, GROUP_TITLE_MAX};
use crate::pages::{place_error, Field, FieldInput, FormError};
use crate::state::use_app;
use crate::validate::{self, FieldKey, Rule};

const TITLE_ERROR: &str = "group-title-error";
const MEMBERS_ERROR: &str = "group-members-error";

const DEBOUNCE: Duration = Duration::from_millis(250);
const CANDIDATES: u32 = 50;

#[component]
pub fn GroupForm() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let open = RwSignal::new(false);
    let title = Field::new("title", |t| validate::group_title(t.trim()));
    let filter = RwSignal::new(String::new());
    let found = RwSignal::new(Vec::<User>::new());
    // Chosen members stay chosen while the filter changes.
    let selected = RwSignal::new(BTreeMap::<UserId, User>::new());
    // Members: at least one chosen (shown from the first submit on), or the server's refusal.
    let members_tried = RwSignal::new(false);
    let members_refused = RwSignal::new(None::<Rule>);
    let error = RwSignal::new(None::<ApiError>);
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
                Err(e) => {
                    let t = i18n.lang.get_untracked().strings();
                    app.notice.set(Some(failure_text(t, t.e_search_failed, &e)))
                }
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

    let members_error = Memo::new(move |_| {
        if let Some(r) = members_refused.get() {
            return Some(r);
        }
        (members_tried.get() && selected.with(BTreeMap::is_empty)).then_some(Rule::Required)
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        error.set(None);
        members_tried.set(true);
        let title_ok = crate::pages::all_valid(&[title]);
        let ids: Vec<UserId> = selected.with_untracked(|s| s.keys().copied().collect());
        if !title_ok || ids.is_empty() {
            return;
        }
        let name = title.value.get_untracked().trim().to_string();
        busy.set(true);
        spawn_local(async move {
            match app.create_group(name, ids).await {
                Ok(_) => {
                    open.set(false);
                    title.clear();
                    filter.set(String::new());
                    selected.set(BTreeMap::new());
                    members_tried.set(false);
                    error.set(None);
                }
                Err(e) => {
                    let rest = place_error(e, &[title]);
                    // `member_ids` is not an input of its own: its refusal goes under the list.
                    match rest {
                        Some(ApiError::Server { ref error, .. })
                            if error.code == "invalid_input"
                                && error.field.as_deref() == Some("member_ids") =>
                        {
                            members_refused.set(
                                error
                                    .rule
                                    .as_deref()
                                    .and_then(Rule::parse)
                                    .or(Some(Rule::Count)),
                            );
                        }
                        other => error.set(other),
                    }
                }
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
                    <div class="field">
                        <label for="group-title-input">{move || i18n.t().group_title}</label>
                        <FieldInput
                            field=title
                            id="group-title-input"
                            error_id=TITLE_ERROR
                            maxlength=GROUP_TITLE_MAX
                        />
                    </div>
                    <fieldset
                        class="member-picker"
                        aria-invalid=move || members_error.get().map(|_| "true")
                        aria-describedby=move || members_error.get().map(|_| MEMBERS_ERROR)
                    >
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
                                                        members_refused.set(None);
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
                    {move || {
                        members_error
                            .get()
                            .map(|rule| {
                                view! {
                                    <p class="field-error" id=MEMBERS_ERROR data-testid=MEMBERS_ERROR>
                                        {move || rule_text(i18n.t(), FieldKey::Members, rule)}
                                    </p>
                                }
                            })
                    }}
                    <FormError error=error testid="group-error" />
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
