//! Integration tests: one binary, the real server per test (port 0, fresh database).

mod helpers;

mod abuse;
mod auth;
mod change_log;
mod changes;
mod client;
mod cluster;
mod concurrent_writers;
mod convergence;
mod conversations;
mod delivery;
mod group_cost;
mod hardening;
mod heads;
mod history;
mod leaving;
mod liveness;
mod mute;
mod observability;
mod operators;
mod recall;
mod resume_random;
mod scheduler;
mod search;
mod search_limits;
mod server;
mod status;
mod welcome_first;
