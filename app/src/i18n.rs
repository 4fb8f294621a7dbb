//! Chinese and English UI strings. The language follows `navigator.language` until the user
//! picks one with the `lang-switch` button; the choice is kept in localStorage.

use leptos::prelude::*;

use crate::api::ApiError;
use crate::validate::{error_key, ErrorKey, FieldKey, Rule};

const STORAGE_KEY: &str = "courier.lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
    fn from_code(code: &str) -> Option<Lang> {
        let c = code.to_ascii_lowercase();
        if c.starts_with("zh") {
            Some(Lang::Zh)
        } else if c.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
    pub fn strings(self) -> &'static Strings {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }
}

/// Every user-visible string, per language.
pub struct Strings {
    pub app_name: &'static str,
    pub switch_to: &'static str,
    pub login_title: &'static str,
    pub register_title: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub display_name: &'static str,
    pub display_name_hint: &'static str,
    pub login: &'static str,
    pub register: &'static str,
    pub logging_in: &'static str,
    pub no_account: &'static str,
    pub have_account: &'static str,
    pub logout: &'static str,
    pub err_invalid_credentials: &'static str,
    pub err_username_taken: &'static str,
    pub err_network: &'static str,
    pub conn_open: &'static str,
    pub conn_connecting: &'static str,
    pub conn_reconnecting: &'static str,
    pub conn_closed: &'static str,
    pub conn_offline: &'static str,
    pub offline_banner: &'static str,
    pub waiting_for_network: &'static str,
    pub logout_unsent: &'static str,
    pub conversation_not_found: &'static str,
    pub reconnect_banner: &'static str,
    pub retry_now: &'static str,
    pub conversations: &'static str,
    pub no_conversations: &'static str,
    pub search_users: &'static str,
    pub no_users_found: &'static str,
    pub new_group: &'static str,
    pub group_title: &'static str,
    pub group_members: &'static str,
    pub group_filter: &'static str,
    pub create_group: &'static str,
    pub cancel: &'static str,
    pub group_needs_title: &'static str,
    pub group_needs_members: &'static str,
    pub pick_conversation: &'static str,
    pub back: &'static str,
    pub loading_history: &'static str,
    pub history_start: &'static str,
    pub load_older: &'static str,
    pub jump_to_latest: &'static str,
    pub new_messages_below: &'static str,
    pub recalled: &'static str,
    pub recall: &'static str,
    pub recall_confirm: &'static str,
    pub message_actions: &'static str,
    pub recall_failed: &'static str,
    pub recall_window_passed: &'static str,
    pub recall_not_allowed: &'static str,
    pub op_id_reused: &'static str,
    pub status_sending: &'static str,
    pub status_sent: &'static str,
    pub status_delivered: &'static str,
    pub status_read: &'static str,
    pub send_failed: &'static str,
    pub retry: &'static str,
    pub discard: &'static str,
    pub composer_placeholder: &'static str,
    pub composer_hint: &'static str,
    pub send: &'static str,
    pub too_long: &'static str,
    pub you: &'static str,
    pub typing: &'static str,
    pub today: &'static str,
    pub yesterday: &'static str,
    pub members_count: &'static str,
    pub leave_group: &'static str,
    pub leave_group_confirm: &'static str,
    pub leave: &'static str,
    pub leave_failed: &'static str,
    pub message_test: &'static str,
    pub back_to_chat: &'static str,
    pub login_required: &'static str,
    pub go_login: &'static str,
    pub mt_ws: &'static str,
    pub mt_state: &'static str,
    pub mt_rtt: &'static str,
    pub mt_events: &'static str,
    pub mt_clear: &'static str,
    pub mt_reconnect: &'static str,
    pub mt_offline: &'static str,
    pub mt_offline_help: &'static str,
    pub mt_target: &'static str,
    pub mt_count: &'static str,
    pub mt_run: &'static str,
    pub mt_pending: &'static str,
    pub mt_pushed: &'static str,
    pub mt_failed: &'static str,
    pub mt_total: &'static str,
    pub mt_history: &'static str,
    pub mt_history_help: &'static str,
    pub mt_conversation: &'static str,
    pub mt_messages: &'static str,
    pub mt_pages: &'static str,
    pub mt_ms: &'static str,
    pub mt_stats: &'static str,
    pub mt_success_rate: &'static str,
    pub mt_refresh: &'static str,
    pub mt_online_users: &'static str,
    pub mt_connections: &'static str,
    /// "node", before a cluster node's id (the figures beside it are that node's).
    pub mt_node: &'static str,
    pub mt_my_backlog: &'static str,
    pub mt_server: &'static str,
    pub mt_sent_by_me: &'static str,
    pub mt_user_not_found: &'static str,
    pub mt_running: &'static str,
    // Message search, the unread divider, jump to latest.
    pub unread_divider: &'static str,
    pub search_messages: &'static str,
    pub search_clear: &'static str,
    pub search_no_results: &'static str,
    pub search_more: &'static str,
    pub search_results: &'static str,
    pub searching: &'static str,
    // "Seen by" in groups.
    pub seen_by: &'static str,
    pub receipt_not_delivered: &'static str,
    pub receipts_failed: &'static str,
    pub close: &'static str,
    // ---- /message-test: operators only, readable results (issue 13, chunk J) ----
    /// Shown instead of /message-test to a user who is not one of the server's operators.
    pub mt_forbidden: &'static str,
    /// The history test's verdict: every seq came exactly once.
    pub mt_gapless: &'static str,
    /// The history test's verdict: some seq was missing or repeated.
    pub mt_gaps: &'static str,
    /// Under the RTT chart: time runs from left to right.
    pub mt_rtt_axis: &'static str,
    pub mt_rtt_last: &'static str,
    pub mt_rtt_min: &'static str,
    pub mt_rtt_median: &'static str,
    pub mt_rtt_p95: &'static str,
    /// How many times the offline test waited out a rate limit (`429`) and sent again.
    pub mt_throttled: &'static str,
    /// The (visually hidden) header of the statistics table's row-label column.
    pub mt_records: &'static str,
    // --- Desktop notifications and mute (notify.rs) ---
    pub notify_prompt: &'static str,
    pub notify_enable: &'static str,
    pub notify_dismiss: &'static str,
    pub mute: &'static str,
    pub unmute: &'static str,
    pub mute_failed: &'static str,
    pub muted_label: &'static str,
    // --- Forms and localized errors (issue 13, chunk I): `error_text` and the forms' field checks.
    // `{min}`, `{max}` and `{secs}` are filled in by `error_text` / `rule_text`.
    pub e_colon: &'static str,
    pub e_username_required: &'static str,
    pub e_username_length: &'static str,
    pub e_username_charset: &'static str,
    pub e_password_required: &'static str,
    pub e_password_length: &'static str,
    pub e_password_common: &'static str,
    pub e_display_name_length: &'static str,
    pub e_display_name_chars: &'static str,
    pub e_title_length: &'static str,
    pub e_title_chars: &'static str,
    pub e_members_count: &'static str,
    pub e_members_unknown: &'static str,
    pub e_not_self: &'static str,
    pub e_content_required: &'static str,
    pub e_content_length: &'static str,
    pub e_query_required: &'static str,
    pub e_query_length: &'static str,
    pub e_query_pieces: &'static str,
    pub e_invalid_input: &'static str,
    pub e_bad_request: &'static str,
    pub e_cross_origin: &'static str,
    pub e_duplicate_cookie: &'static str,
    pub e_unauthorized: &'static str,
    pub e_client_msg_id_reused: &'static str,
    pub e_not_found: &'static str,
    pub e_payload_too_large: &'static str,
    pub e_request_timeout: &'static str,
    pub e_rate_limited: &'static str,
    pub e_too_many_attempts: &'static str,
    pub e_too_many_registrations: &'static str,
    pub e_retry_in: &'static str,
    pub e_retry_later: &'static str,
    pub e_direct_conversation: &'static str,
    pub e_unavailable: &'static str,
    pub e_search_timeout: &'static str,
    pub e_internal: &'static str,
    pub e_bad_frame: &'static str,
    pub e_other: &'static str,
    pub e_load_conversations: &'static str,
    pub e_load_history: &'static str,
    pub e_search_failed: &'static str,
}

pub static ZH: Strings = Strings {
    app_name: "Courier",
    switch_to: "English",
    login_title: "登录",
    register_title: "注册",
    username: "用户名",
    password: "密码",
    display_name: "显示名称",
    display_name_hint: "可选，默认为用户名",
    login: "登录",
    register: "注册",
    logging_in: "请稍候…",
    no_account: "还没有账号？注册",
    have_account: "已有账号？登录",
    logout: "退出",
    err_invalid_credentials: "用户名或密码错误",
    err_username_taken: "用户名已被占用",
    err_network: "无法连接服务器，请稍后再试",
    conn_open: "已连接",
    conn_connecting: "连接中…",
    conn_reconnecting: "重新连接中…",
    conn_closed: "未连接",
    conn_offline: "无网络",
    offline_banner: "网络已断开。未发送的消息已保存，联网后会自动发送。",
    waiting_for_network: "等待网络",
    logout_unsent: "还有未发送的消息。退出登录会丢弃它们，确定退出吗？",
    conversation_not_found: "这个会话不存在，或者你已不在其中。",
    reconnect_banner: "连接已断开，正在重新连接。未发送的消息会在恢复后自动发送。",
    retry_now: "立即重试",
    conversations: "会话",
    no_conversations: "还没有会话。搜索用户开始聊天。",
    search_users: "搜索用户开始聊天",
    no_users_found: "没有找到用户",
    new_group: "新建群聊",
    group_title: "群名称",
    group_members: "选择成员",
    group_filter: "筛选用户",
    create_group: "创建",
    cancel: "取消",
    group_needs_title: "请输入群名称",
    group_needs_members: "请至少选择一位成员",
    pick_conversation: "选择一个会话开始聊天",
    back: "返回",
    loading_history: "正在加载历史消息…",
    history_start: "没有更早的消息了",
    load_older: "加载更早的消息",
    jump_to_latest: "回到最新",
    new_messages_below: "有新消息",
    recalled: "消息已撤回",
    recall: "撤回",
    recall_confirm: "撤回这条消息？",
    message_actions: "消息操作",
    recall_failed: "撤回失败",
    recall_window_passed: "已超过可撤回的时间，这条消息不能撤回了",
    recall_not_allowed: "只能撤回自己发送的消息",
    op_id_reused: "这个操作编号已用于另一条消息",
    status_sending: "发送中",
    status_sent: "已发送",
    status_delivered: "已送达",
    status_read: "已读",
    send_failed: "发送失败",
    retry: "重试",
    discard: "删除",
    composer_placeholder: "输入消息…",
    composer_hint: "输入消息，Enter 发送，Shift+Enter 换行",
    send: "发送",
    too_long: "消息过长",
    you: "我",
    typing: "正在输入…",
    today: "今天",
    yesterday: "昨天",
    members_count: "位成员",
    leave_group: "退出群聊",
    leave_group_confirm: "确定退出该群聊？退出后将不再收到它的消息。",
    leave: "退出",
    leave_failed: "退出群聊失败",
    message_test: "消息测试",
    back_to_chat: "返回聊天",
    login_required: "此页面需要登录。",
    go_login: "去登录",
    mt_ws: "WebSocket 状态",
    mt_state: "状态",
    mt_rtt: "心跳往返时间",
    mt_events: "事件日志",
    mt_clear: "清空",
    mt_reconnect: "断开并重连",
    mt_offline: "离线消息测试",
    mt_offline_help: "向指定用户连续发送 N 条消息，观察推送记录从待推送变为已推送。",
    mt_target: "目标用户名",
    mt_count: "条数",
    mt_run: "开始",
    mt_pending: "待推送",
    mt_pushed: "已推送",
    mt_failed: "失败",
    mt_total: "总数",
    mt_history: "聊天记录测试",
    mt_history_help: "选择一个会话，逐页加载全部历史消息。",
    mt_conversation: "会话",
    mt_messages: "消息数",
    mt_pages: "页数",
    mt_ms: "耗时 (ms)",
    mt_stats: "推送统计",
    mt_success_rate: "成功率",
    mt_refresh: "刷新",
    mt_online_users: "在线用户",
    mt_connections: "连接数",
    mt_node: "节点",
    mt_my_backlog: "等待我的消息",
    mt_server: "全服务器",
    mt_sent_by_me: "我发送的",
    mt_user_not_found: "找不到该用户",
    mt_running: "运行中…",
    // Message search, the unread divider, jump to latest.
    unread_divider: "以下为新消息",
    search_messages: "搜索消息",
    search_clear: "清除搜索",
    search_no_results: "没有找到消息",
    search_more: "更多结果",
    search_results: "搜索结果",
    searching: "搜索中…",
    // "Seen by" in groups.
    seen_by: "已读 / 送达情况",
    receipt_not_delivered: "未送达",
    receipts_failed: "无法获取消息状态，稍后会重试",
    close: "关闭",
    // ---- /message-test: operators only, readable results (issue 13, chunk J) ----
    mt_forbidden: "此页面仅供服务器管理员使用。",
    mt_gapless: "无间断 ✓",
    mt_gaps: "有缺口 ✗",
    mt_rtt_axis: "最早 → 现在",
    mt_rtt_last: "最近",
    mt_rtt_min: "最小",
    mt_rtt_median: "中位数",
    mt_rtt_p95: "P95",
    mt_throttled: "限流等待",
    mt_records: "记录",
    // --- Desktop notifications and mute (notify.rs) ---
    notify_prompt: "有新消息时通过桌面通知提醒你？",
    notify_enable: "开启",
    notify_dismiss: "暂不",
    mute: "免打扰",
    unmute: "取消免打扰",
    mute_failed: "设置免打扰失败",
    muted_label: "已设为免打扰",
    // --- Forms and localized errors (issue 13, chunk I).
    e_colon: "：",
    e_username_required: "请输入用户名",
    e_username_length: "用户名需为 {min}–{max} 个字符",
    e_username_charset: "用户名只能包含英文字母、数字、下划线（_）、连字符（-）和点（.）",
    e_password_required: "请输入密码",
    e_password_length: "密码需为 {min}–{max} 个字符",
    e_password_common: "这个密码太常见或太容易猜到，请换一个",
    e_display_name_length: "显示名称最多 {max} 个字符",
    e_display_name_chars: "显示名称不能包含控制字符或不可见的格式字符",
    e_title_length: "群名称最多 {max} 个字符",
    e_title_chars: "群名称不能包含控制字符或不可见的格式字符",
    e_members_count: "群成员需为 1–{max} 位（不含自己）",
    e_members_unknown: "所选成员中有用户不存在",
    e_not_self: "不能和自己开始会话",
    e_content_required: "消息不能为空",
    e_content_length: "消息最多 {max} 个字符",
    e_query_required: "请输入搜索内容",
    e_query_length: "搜索内容过长",
    e_query_pieces: "搜索词最多 {max} 个",
    e_invalid_input: "输入的内容无效",
    e_bad_request: "请求无效，请刷新页面后重试",
    e_cross_origin: "请求来自其他网站，已被拒绝",
    e_duplicate_cookie: "登录状态异常，请清除本站 Cookie 后重新登录",
    e_unauthorized: "登录已失效，请重新登录",
    e_client_msg_id_reused: "消息编号冲突，请重新发送",
    e_not_found: "内容不存在，或你无权查看",
    e_payload_too_large: "内容太大",
    e_request_timeout: "请求超时，请重试",
    e_rate_limited: "操作太频繁",
    e_too_many_attempts: "登录失败次数过多",
    e_too_many_registrations: "此网络注册的账号过多",
    e_retry_in: "，请 {secs} 秒后再试",
    e_retry_later: "，请稍后再试",
    e_direct_conversation: "单聊不能退出，只能退出群聊",
    e_unavailable: "服务器繁忙",
    e_search_timeout: "搜索耗时过长，已停止：请在单个会话中搜索，或使用更长的词",
    e_internal: "服务器出错了，请稍后再试",
    e_bad_frame: "服务器无法读取客户端发送的数据，请刷新页面",
    e_other: "出错了，请稍后再试",
    e_load_conversations: "无法加载会话列表",
    e_load_history: "无法加载消息",
    e_search_failed: "搜索失败",
};

pub static EN: Strings = Strings {
    app_name: "Courier",
    switch_to: "中文",
    login_title: "Sign in",
    register_title: "Create account",
    username: "Username",
    password: "Password",
    display_name: "Display name",
    display_name_hint: "Optional, defaults to the username",
    login: "Sign in",
    register: "Create account",
    logging_in: "Please wait…",
    no_account: "No account yet? Create one",
    have_account: "Already have an account? Sign in",
    logout: "Sign out",
    err_invalid_credentials: "Wrong username or password",
    err_username_taken: "That username is taken",
    err_network: "Cannot reach the server, please try again",
    conn_open: "Connected",
    conn_connecting: "Connecting…",
    conn_reconnecting: "Reconnecting…",
    conn_closed: "Not connected",
    conn_offline: "No network",
    offline_banner:
        "You are offline. Unsent messages are kept and will go out once the network is back.",
    waiting_for_network: "Waiting for network",
    logout_unsent: "Some messages are not sent yet. Logging out discards them. Log out anyway?",
    conversation_not_found: "This conversation does not exist, or you are no longer in it.",
    reconnect_banner: "Connection lost, reconnecting. Unsent messages will go out once it is back.",
    retry_now: "Retry now",
    conversations: "Conversations",
    no_conversations: "No conversations yet. Search for someone to start chatting.",
    search_users: "Search people to chat with",
    no_users_found: "No users found",
    new_group: "New group",
    group_title: "Group name",
    group_members: "Members",
    group_filter: "Filter users",
    create_group: "Create",
    cancel: "Cancel",
    group_needs_title: "Enter a group name",
    group_needs_members: "Choose at least one member",
    pick_conversation: "Pick a conversation to start chatting",
    back: "Back",
    loading_history: "Loading history…",
    history_start: "No older messages",
    load_older: "Load older messages",
    jump_to_latest: "Jump to latest",
    new_messages_below: "New messages",
    recalled: "Message recalled",
    recall: "Recall",
    recall_confirm: "Recall this message?",
    message_actions: "Message actions",
    recall_failed: "Could not recall",
    recall_window_passed: "This message is too old to be recalled",
    recall_not_allowed: "You can only recall your own messages",
    op_id_reused: "This operation id was already used for another message",
    status_sending: "Sending",
    status_sent: "Sent",
    status_delivered: "Delivered",
    status_read: "Read",
    send_failed: "Not sent",
    retry: "Retry",
    discard: "Delete",
    composer_placeholder: "Message…",
    composer_hint: "Type a message. Enter sends, Shift+Enter adds a line",
    send: "Send",
    too_long: "Message too long",
    you: "You",
    typing: "is typing…",
    today: "Today",
    yesterday: "Yesterday",
    members_count: "members",
    leave_group: "Leave group",
    leave_group_confirm: "Leave this group? You will stop receiving its messages.",
    leave: "Leave",
    leave_failed: "Could not leave the group",
    message_test: "Message test",
    back_to_chat: "Back to chat",
    login_required: "This page needs you to sign in.",
    go_login: "Sign in",
    mt_ws: "WebSocket status",
    mt_state: "State",
    mt_rtt: "Heartbeat round trip",
    mt_events: "Event log",
    mt_clear: "Clear",
    mt_reconnect: "Drop and reconnect",
    mt_offline: "Offline message test",
    mt_offline_help:
        "Send N messages in a row to a user and watch their push records go from pending to pushed.",
    mt_target: "Target username",
    mt_count: "Count",
    mt_run: "Run",
    mt_pending: "Pending",
    mt_pushed: "Pushed",
    mt_failed: "Failed",
    mt_total: "Total",
    mt_history: "Chat history test",
    mt_history_help: "Pick a conversation and page through its whole history.",
    mt_conversation: "Conversation",
    mt_messages: "Messages",
    mt_pages: "Pages",
    mt_ms: "Time (ms)",
    mt_stats: "Push statistics",
    mt_success_rate: "Success rate",
    mt_refresh: "Refresh",
    mt_online_users: "Online users",
    mt_connections: "Connections",
    mt_node: "node",
    mt_my_backlog: "Waiting for me",
    mt_server: "Whole server",
    mt_sent_by_me: "Sent by me",
    mt_user_not_found: "No such user",
    mt_running: "Running…",
    // Message search, the unread divider, jump to latest.
    unread_divider: "New messages",
    search_messages: "Search messages",
    search_clear: "Clear search",
    search_no_results: "No messages found",
    search_more: "More results",
    search_results: "Search results",
    searching: "Searching…",
    // "Seen by" in groups.
    seen_by: "Seen by",
    receipt_not_delivered: "Not delivered",
    receipts_failed: "Could not get the message's status; trying again shortly",
    close: "Close",
    // ---- /message-test: operators only, readable results (issue 13, chunk J) ----
    mt_forbidden: "This page is for the server's operators only.",
    mt_gapless: "No gaps ✓",
    mt_gaps: "Gaps found ✗",
    mt_rtt_axis: "oldest → now",
    mt_rtt_last: "last",
    mt_rtt_min: "min",
    mt_rtt_median: "median",
    mt_rtt_p95: "p95",
    mt_throttled: "Rate-limit waits",
    mt_records: "Records",
    // --- Desktop notifications and mute (notify.rs) ---
    notify_prompt: "Get a desktop notification when a message arrives?",
    notify_enable: "Turn on",
    notify_dismiss: "Not now",
    mute: "Mute",
    unmute: "Unmute",
    mute_failed: "Could not change mute",
    muted_label: "Muted",
    // --- Forms and localized errors (issue 13, chunk I).
    e_colon: ": ",
    e_username_required: "Enter a username",
    e_username_length: "A username has {min}–{max} characters",
    e_username_charset: "A username may contain only letters, digits, _ - and .",
    e_password_required: "Enter a password",
    e_password_length: "A password has {min}–{max} characters",
    e_password_common: "This password is too common or too easy to guess; choose another",
    e_display_name_length: "A display name has at most {max} characters",
    e_display_name_chars:
        "A display name cannot contain control or invisible formatting characters",
    e_title_length: "A group name has at most {max} characters",
    e_title_chars: "A group name cannot contain control or invisible formatting characters",
    e_members_count: "A group has 1–{max} members besides you",
    e_members_unknown: "One of the chosen members does not exist",
    e_not_self: "You cannot start a conversation with yourself",
    e_content_required: "A message cannot be empty",
    e_content_length: "A message has at most {max} characters",
    e_query_required: "Enter something to search for",
    e_query_length: "The search text is too long",
    e_query_pieces: "Search for at most {max} words",
    e_invalid_input: "Some of the input is not valid",
    e_bad_request: "The request was not valid; reload the page and try again",
    e_cross_origin: "Refused: the request came from another site",
    e_duplicate_cookie:
        "Your sign-in cookie is broken; clear this site's cookies and sign in again",
    e_unauthorized: "You are signed out; please sign in again",
    e_client_msg_id_reused: "Message id clash; please send it again",
    e_not_found: "Not found, or you may not see it",
    e_payload_too_large: "That is too large",
    e_request_timeout: "The request timed out; please try again",
    e_rate_limited: "Too many requests",
    e_too_many_attempts: "Too many failed sign-ins",
    e_too_many_registrations: "Too many accounts registered from this network",
    e_retry_in: "; try again in {secs} s",
    e_retry_later: "; try again later",
    e_direct_conversation: "A direct conversation cannot be left, only a group",
    e_unavailable: "The server is busy",
    e_search_timeout:
        "The search took too long and was stopped: search one conversation, or use longer words",
    e_internal: "The server failed; please try again later",
    e_bad_frame: "The server could not read what this page sent; please reload",
    e_other: "Something went wrong; please try again later",
    e_load_conversations: "Could not load the conversations",
    e_load_history: "Could not load the messages",
    e_search_failed: "Search failed",
};

/// The current language, shared by context.
#[derive(Clone, Copy)]
pub struct I18n {
    pub lang: RwSignal<Lang>,
}

impl I18n {
    /// Stored choice, else the browser's language, else English.
    pub fn detect() -> I18n {
        let stored = local_storage()
            .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten())
            .and_then(|c| Lang::from_code(&c));
        let browser = || {
            window()
                .navigator()
                .language()
                .and_then(|c| Lang::from_code(&c))
        };
        let lang = stored.or_else(browser).unwrap_or(Lang::En);
        set_document_lang(lang);
        I18n {
            lang: RwSignal::new(lang),
        }
    }

    /// The strings of the current language (reactive: call inside a closure).
    pub fn t(&self) -> &'static Strings {
        self.lang.get().strings()
    }

    pub fn toggle(&self) {
        let next = self.lang.get_untracked().other();
        self.lang.set(next);
        if let Some(s) = local_storage() {
            let _ = s.set_item(STORAGE_KEY, next.code());
        }
        set_document_lang(next);
    }
}

pub fn use_i18n() -> I18n {
    expect_context::<I18n>()
}

fn local_storage() -> Option<web_sys::Storage> {
    crate::persist::local_storage()
}

fn set_document_lang(lang: Lang) {
    if let Some(el) = document().document_element() {
        let _ = el.set_attribute("lang", if lang == Lang::Zh { "zh-CN" } else { "en" });
    }
}

// --- Localized errors (issue 13, chunk I) ---------------------------------------------------
// Every error the user sees is worded here from the error's `code`, `field` and `rule` (or the
// client's own check): never the server's English `message`, never a raw field name.

/// The words for "`field` breaks `rule`" (a client-side check or the server's `invalid_input`).
pub fn rule_text(t: &Strings, field: FieldKey, rule: Rule) -> String {
    use crate::model::{
        DISPLAY_NAME_MAX, GROUP_MEMBERS_MAX, GROUP_TITLE_MAX, MAX_CONTENT_CHARS,
        MAX_SEARCH_QUERY_PIECES, PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX, USERNAME_MIN,
    };
    let (text, min, max) = match (field, rule) {
        (FieldKey::Username, Rule::Required) => (t.e_username_required, 0, 0),
        (FieldKey::Username, Rule::Length) => (t.e_username_length, USERNAME_MIN, USERNAME_MAX),
        (FieldKey::Username, Rule::Charset) => (t.e_username_charset, 0, 0),
        (FieldKey::Password | FieldKey::NewPassword, Rule::Required) => {
            (t.e_password_required, 0, 0)
        }
        (FieldKey::Password | FieldKey::NewPassword, Rule::Length) => {
            (t.e_password_length, PASSWORD_MIN, PASSWORD_MAX)
        }
        (FieldKey::Password | FieldKey::NewPassword, Rule::Common) => (t.e_password_common, 0, 0),
        (FieldKey::DisplayName, Rule::Length) => (t.e_display_name_length, 0, DISPLAY_NAME_MAX),
        (FieldKey::DisplayName, Rule::ControlChars | Rule::FormatChars) => {
            (t.e_display_name_chars, 0, 0)
        }
        (FieldKey::Title, Rule::Required) => (t.group_needs_title, 0, 0),
        (FieldKey::Title, Rule::Length) => (t.e_title_length, 0, GROUP_TITLE_MAX),
        (FieldKey::Title, Rule::ControlChars | Rule::FormatChars) => (t.e_title_chars, 0, 0),
        (FieldKey::Members, Rule::Required) => (t.group_needs_members, 0, 0),
        (FieldKey::Members, Rule::Count) => (t.e_members_count, 1, GROUP_MEMBERS_MAX),
        (FieldKey::Members, Rule::Unknown) => (t.e_members_unknown, 0, 0),
        (FieldKey::Members, Rule::NotSelf) => (t.e_not_self, 0, 0),
        (FieldKey::Content, Rule::Required) => (t.e_content_required, 0, 0),
        (FieldKey::Content, Rule::Length) => (t.e_content_length, 0, MAX_CONTENT_CHARS),
        (FieldKey::Query, Rule::Required) => (t.e_query_required, 0, 0),
        (FieldKey::Query, Rule::Length) => (t.e_query_length, 0, 0),
        (FieldKey::Query, Rule::Count) => (t.e_query_pieces, 0, MAX_SEARCH_QUERY_PIECES),
        _ => (t.e_invalid_input, 0, 0),
    };
    text.replace("{min}", &min.to_string())
        .replace("{max}", &max.to_string())
}

/// The words for an error: the server's `code`, `field` and `rule` (HTTP body or WebSocket
/// `error` frame), and when to retry, if the server said.
pub fn error_text(
    t: &Strings,
    code: &str,
    field: Option<&str>,
    rule: Option<&str>,
    retry_after_secs: Option<u64>,
) -> String {
    key_text(t, error_key(code, field, rule), retry_after_secs)
}

fn key_text(t: &Strings, key: ErrorKey, retry_after_secs: Option<u64>) -> String {
    let retry = |base: &str| {
        let tail = match retry_after_secs {
            Some(secs) => t.e_retry_in.replace("{secs}", &secs.max(1).to_string()),
            None => t.e_retry_later.to_string(),
        };
        format!("{base}{tail}")
    };
    match key {
        ErrorKey::Field(f, r) => rule_text(t, f, r),
        ErrorKey::InvalidInput => t.e_invalid_input.into(),
        ErrorKey::BadRequest | ErrorKey::UnsupportedMediaType | ErrorKey::MethodNotAllowed => {
            t.e_bad_request.into()
        }
        ErrorKey::CrossOrigin | ErrorKey::OriginNotAllowed => t.e_cross_origin.into(),
        ErrorKey::DuplicateSessionCookie => t.e_duplicate_cookie.into(),
        ErrorKey::Unauthorized => t.e_unauthorized.into(),
        ErrorKey::InvalidCredentials => t.err_invalid_credentials.into(),
        ErrorKey::UsernameTaken => t.err_username_taken.into(),
        ErrorKey::ClientMsgIdReused => t.e_client_msg_id_reused.into(),
        ErrorKey::RecallWindowPassed => t.recall_window_passed.into(),
        ErrorKey::RecallNotAllowed => t.recall_not_allowed.into(),
        ErrorKey::OpIdReused => t.op_id_reused.into(),
        ErrorKey::NotFound => t.e_not_found.into(),
        ErrorKey::PayloadTooLarge => t.e_payload_too_large.into(),
        ErrorKey::RequestTimeout => t.e_request_timeout.into(),
        ErrorKey::RateLimited => retry(t.e_rate_limited),
        ErrorKey::TooManyAttempts => retry(t.e_too_many_attempts),
        ErrorKey::TooManyRegistrations => retry(t.e_too_many_registrations),
        ErrorKey::DirectConversation => t.e_direct_conversation.into(),
        ErrorKey::Unavailable => retry(t.e_unavailable),
        ErrorKey::SearchTimeout => t.e_search_timeout.into(),
        ErrorKey::Internal => t.e_internal.into(),
        ErrorKey::BadFrame => t.e_bad_frame.into(),
        ErrorKey::Network => t.err_network.into(),
        ErrorKey::Other => t.e_other.into(),
    }
}

/// The words for a failed HTTP call.
pub fn api_error_text(t: &Strings, e: &ApiError) -> String {
    match e {
        ApiError::Server { error, .. } => error_text(
            t,
            &error.code,
            error.field.as_deref(),
            error.rule.as_deref(),
            error.retry_after_secs,
        ),
        ApiError::Network(_) => key_text(t, ErrorKey::Network, None),
        // A proxy's error page: the server is not there or not well.
        ApiError::Status { status, .. } if *status >= 500 => {
            key_text(t, ErrorKey::Unavailable, None)
        }
        ApiError::Status { .. } | ApiError::Decode(_) => key_text(t, ErrorKey::Other, None),
    }
}

/// "What failed: why", e.g. "撤回失败：操作太频繁，请 3 秒后再试".
pub fn failure_text(t: &Strings, what: &str, e: &ApiError) -> String {
    format!("{what}{}{}", t.e_colon, api_error_text(t, e))
}
