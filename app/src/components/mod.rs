//! UI building blocks of the chat and the test page.

pub mod banner;
pub mod composer;
pub mod conversation_list;
pub mod format;
pub mod group_form;
pub mod message_list;
pub mod message_menu;
pub mod message_search;
pub mod receipts_sheet;
pub mod status_mark;
pub mod user_search;

pub use banner::{ConnBadge, LangSwitch, Notice, ReconnectBanner};
