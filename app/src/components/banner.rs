//! Connection state badge, reconnect banner, language switch, transient notices.

use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::state::use_app;
use crate::store::ConnState as Conn;

/// `conn-state`: a dot and a word, with `data-state` = open|connecting|reconnecting|closed.
#[component]
pub fn ConnBadge(#[prop(default = "conn-state")] testid: &'static str) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let state = Memo::new(move |_| app.store.with(|s| s.connection));
    let label = move || {
        let t = i18n.t();
        match state.get() {
            Conn::Open => t.conn_open,
            Conn::Connecting => t.conn_connecting,
            Conn::Reconnecting => t.conn_reconnecting,
            Conn::Closed => t.conn_closed,
            Conn::Offline => t.conn_offline,
        }
    };
    view! {
        <span
            class="conn-state"
            data-testid=testid
            data-state=move || state.get().as_str()
            role="status"
            title=label
        >
            <span class="conn-dot" aria-hidden="true"></span>
            <span class="conn-label">{label}</span>
        </span>
    }
}

/// `reconnect-banner`: only while the socket is down after it had been up.
#[component]
pub fn ReconnectBanner() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    // Without network it shows at once, even before the first connection came up.
    let show = Memo::new(move |_| {
        app.store
            .with(|s| (s.ever_open && s.connection != Conn::Open) || s.connection == Conn::Offline)
    });
    let offline = Memo::new(move |_| app.store.with(|s| s.connection == Conn::Offline));
    view! {
        <Show when=move || show.get()>
            <div
                class="reconnect-banner"
                data-testid="reconnect-banner"
                data-offline=move || offline.get().to_string()
                role="alert"
            >
                <span>
                    {move || {
                        let t = i18n.t();
                        if offline.get() { t.offline_banner } else { t.reconnect_banner }
                    }}
                </span>
                <button type="button" class="link-button" on:click=move |_| app.reconnect_now()>
                    {move || i18n.t().retry_now}
                </button>
            </div>
        </Show>
    }
}

/// `lang-switch`: toggles zh ⇄ en; the label names the language it switches to.
#[component]
pub fn LangSwitch() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <button
            type="button"
            class="lang-switch"
            data-testid="lang-switch"
            data-lang=move || i18n.lang.get().code()
            lang=move || i18n.lang.get().other().code()
            on:click=move |_| i18n.toggle()
        >
            {move || i18n.t().switch_to}
        </button>
    }
}

/// A dismissable notice for failures that have no better place (recall refused, …).
#[component]
pub fn Notice() -> impl IntoView {
    let app = use_app();
    // A notice goes away by itself after a while, unless a newer one replaced it.
    Effect::new(move |_| {
        if let Some(text) = app.notice.get() {
            set_timeout(
                move || {
                    if app.notice.get_untracked().as_deref() == Some(text.as_str()) {
                        app.notice.set(None);
                    }
                },
                std::time::Duration::from_secs(8),
            );
        }
    });
    view! {
        {move || {
            app.notice
                .get()
                .map(|text| {
                    view! {
                        <div class="notice" data-testid="notice" role="alert">
                            <span>{text}</span>
                            <button
                                type="button"
                                class="icon-button"
                                aria-label="×"
                                on:click=move |_| app.notice.set(None)
                            >
                                "×"
                            </button>
                        </div>
                    }
                })
        }}
    }
}
