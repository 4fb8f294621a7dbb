//! Message search: a box above the conversation list; while it holds a query the list gives way
//! to the hits, newest first, each opening its conversation at the message (history loaded
//! around it, the bubble highlighted).

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::NavigateOptions;

use crate::api;
use crate::components::format;
use crate::highlight;
use crate::i18n::{api_error_text, use_i18n};
use crate::model::{Message, MessageId, MAX_SEARCH_QUERY_CHARS as MAX_QUERY_CHARS};
use crate::state::use_app;
use crate::store::Event;

/// Typing pauses this long before a search goes out.
const DEBOUNCE: Duration = Duration::from_millis(250);
/// Hits per page (the server allows up to 50).
const PAGE: u32 = 20;
/// Characters of a hit's text a result row shows around the match.
const EXCERPT_CHARS: usize = 90;

/// The search box and, while `query` is not empty, the hits.
#[component]
pub fn MessageSearch(query: RwSignal<String>) -> impl IntoView {
    let i18n = use_i18n();
    let app = use_app();
    // The hits live in the store (`ClientState::search`), where later changes reach them.
    let results = Memo::new(move |_| app.store.with(|s| s.search.clone()));
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    let run = move |q: String, before: Option<MessageId>| {
        busy.set(true);
        spawn_local(async move {
            let found = api::search_messages(q.trim(), before, PAGE).await;
            // Only the latest query counts; an answer to an older one is dropped (and one that
            // arrives after the search box is gone, e.g. after a logout).
            if query.try_get_untracked().as_ref() != Some(&q) {
                return;
            }
            busy.set(false);
            match found {
                Ok(page) => {
                    error.set(None);
                    app.dispatch(Event::SearchAnswered {
                        q,
                        before,
                        hits: page.hits,
                        next_before: page.next_before,
                    });
                }
                Err(e) => error.set(Some(api_error_text(
                    i18n.lang.get_untracked().strings(),
                    &e,
                ))),
            }
        });
    };

    let on_input = move |ev: leptos::ev::Event| {
        let q: String = event_target_value(&ev)
            .chars()
            .take(MAX_QUERY_CHARS)
            .collect();
        query.set(q.clone());
        if q.trim().is_empty() {
            app.dispatch(Event::SearchCleared);
            busy.set(false);
            error.set(None);
            return;
        }
        spawn_local(async move {
            gloo_timers::future::sleep(DEBOUNCE).await;
            if query.try_get_untracked().as_ref() == Some(&q) {
                run(q, None);
            }
        });
    };
    let clear = move || {
        query.set(String::new());
        app.dispatch(Event::SearchCleared);
        busy.set(false);
        error.set(None);
    };

    view! {
        <div class="message-search" role="search" aria-label=move || i18n.t().search_messages>
            <div class="message-search-box">
                <input
                    type="search"
                    class="search-input"
                    data-testid="message-search-input"
                    placeholder=move || i18n.t().search_messages
                    aria-label=move || i18n.t().search_messages
                    autocomplete="off"
                    maxlength=MAX_QUERY_CHARS.to_string()
                    prop:value=move || query.get()
                    on:input=on_input
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                        if ev.key() == "Escape" {
                            clear();
                        }
                    }
                />
            </div>
            <Show when=move || !query.get().trim().is_empty()>
                <section
                    class="message-search-results"
                    data-testid="message-search-results"
                    aria-label=move || i18n.t().search_results
                    aria-busy=move || busy.get().to_string()
                >
                    {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                    {move || {
                        results
                            .get()
                            .map(|r| {
                                if r.hits.is_empty() {
                                    view! {
                                        <p class="empty-hint" data-testid="search-empty" role="status">
                                            {move || i18n.t().search_no_results}
                                        </p>
                                    }
                                        .into_any()
                                } else {
                                    let q = r.q.clone();
                                    view! {
                                        <ul class="search-hits">
                                            {r
                                                .hits
                                                .into_iter()
                                                .map(|m| view! { <SearchHit m=m q=q.clone() /> })
                                                .collect_view()}
                                        </ul>
                                    }
                                        .into_any()
                                }
                            })
                    }}
                    <Show when=move || busy.get()>
                        <p class="empty-hint" role="status">{move || i18n.t().searching}</p>
                    </Show>
                    <Show when=move || {
                        !busy.get() && results.with(|r| r.as_ref().is_some_and(|r| r.next_before.is_some()))
                    }>
                        <button
                            type="button"
                            class="link-button search-more"
                            data-testid="search-more"
                            on:click=move |_| {
                                let next = results.with_untracked(|r| r.as_ref().and_then(|r| r.next_before));
                                run(query.get_untracked(), next);
                            }
                        >
                            {move || i18n.t().search_more}
                        </button>
                    </Show>
                </section>
            </Show>
        </div>
    }
}

/// One hit: its conversation, sender, time and an excerpt with the matches marked.
#[component]
fn SearchHit(m: Message, q: String) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let navigate = use_navigate();
    let location = use_location();
    let (cid, seq) = (m.conversation_id, m.seq);
    let title = Memo::new(move |_| {
        app.store.with(|s| {
            s.conversations
                .get(&cid)
                .map(|c| c.info.title.clone())
                .unwrap_or_default()
        })
    });
    let recalled = m.recalled;
    let text = highlight::excerpt(m.content.as_deref().unwrap_or_default(), &q, EXCERPT_CHARS);
    let runs = highlight::marked(&text, &q)
        .into_iter()
        .map(|(run, hit)| {
            if hit {
                view! { <mark>{run}</mark> }.into_any()
            } else {
                run.into_any()
            }
        })
        .collect_view();
    let href = format!("/c/{cid}?m={seq}");
    let open = {
        let href = href.clone();
        move |ev: leptos::ev::MouseEvent| {
            ev.prevent_default();
            app.jump_to(cid, seq);
            // In the URL too (a reload returns to the hit); between conversations the entry
            // is replaced, as when switching from the list.
            let replace = location.pathname.get_untracked().starts_with("/c/");
            navigate(
                &href,
                NavigateOptions {
                    replace,
                    ..Default::default()
                },
            );
        }
    };
    view! {
        <li>
            <a
                class="search-hit"
                data-testid="search-result"
                data-conversation-id=cid.to_string()
                data-seq=seq.to_string()
                data-message-id=m.id.to_string()
                data-recalled=recalled.to_string()
                href=href
                on:click=open
            >
                <span class="search-hit-head">
                    <span class="search-hit-title">{move || title.get()}</span>
                    <time class="search-hit-time" datetime=format::iso(m.created_at)>
                        {move || {
                            let lang = i18n.lang.get();
                            format::list_time(lang, lang.strings(), m.created_at, app.now.get())
                        }}
                    </time>
                </span>
                <span class="search-hit-text">
                    <span class="search-hit-sender">{m.sender_name.clone()}": "</span>
                    {if recalled {
                        // Recalled after the search answered: its text is gone here too.
                        view! {
                            <span class="search-hit-recalled" data-testid="search-hit-recalled">
                                {move || i18n.t().recalled}
                            </span>
                        }
                            .into_any()
                    } else {
                        runs.into_any()
                    }}
                </span>
            </a>
        </li>
    }
}
