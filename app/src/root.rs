//! The app root: language, session, routes.

use leptos::prelude::*;
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

use crate::i18n::{use_i18n, I18n};
use crate::pages::chat::ChatPage;
use crate::pages::login::LoginPage;
use crate::pages::message_test::MessageTestPage;
use crate::pages::register::RegisterPage;
use crate::state::AppState;

#[component]
pub fn App() -> impl IntoView {
    let i18n = I18n::detect();
    provide_context(i18n);
    AppState::init(i18n);
    view! {
        <Router>
            <Routes fallback=NotFound>
                // The chat stays mounted while its URL names the open conversation:
                // `/` (none) or `/c/{id}` (pages/chat.rs keeps the two in step).
                <ParentRoute path=path!("") view=ChatPage>
                    <Route path=path!("") view=|| () />
                    <Route path=path!("c/:id") view=|| () />
                </ParentRoute>
                <Route path=path!("/login") view=LoginPage />
                <Route path=path!("/register") view=RegisterPage />
                <Route path=path!("/message-test") view=MessageTestPage />
            </Routes>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <main class="auth-page">
            <div class="auth-card">
                <h1>"404"</h1>
                <a href="/">{move || i18n.t().back_to_chat}</a>
            </div>
        </main>
    }
}
