//! Local-time formatting for message times, list times and day separators.

use wasm_bindgen::JsValue;

use crate::i18n::{Lang, Strings};

fn date(ms: i64) -> js_sys::Date {
    js_sys::Date::new(&JsValue::from_f64(ms as f64))
}

/// Days since the epoch in local time: equal for two instants on the same local day.
pub fn local_day(ms: i64) -> i64 {
    let d = date(ms);
    let offset_ms = d.get_timezone_offset() as i64 * 60_000;
    (ms - offset_ms).div_euclid(86_400_000)
}

/// "14:05".
pub fn clock(ms: i64) -> String {
    let d = date(ms);
    format!("{:02}:{:02}", d.get_hours(), d.get_minutes())
}

/// Machine-readable time for `<time datetime>`.
pub fn iso(ms: i64) -> String {
    date(ms).to_iso_string().into()
}

fn month_day(lang: Lang, ms: i64) -> String {
    let d = date(ms);
    match lang {
        Lang::Zh => format!("{}月{}日", d.get_month() + 1, d.get_date()),
        Lang::En => {
            const MONTHS: [&str; 12] = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            format!("{} {}", MONTHS[d.get_month() as usize % 12], d.get_date())
        }
    }
}

fn full_date(lang: Lang, ms: i64) -> String {
    let d = date(ms);
    match lang {
        Lang::Zh => format!("{}年{}", d.get_full_year(), month_day(lang, ms)),
        Lang::En => format!("{}, {}", month_day(lang, ms), d.get_full_year()),
    }
}

/// A day separator: "Today", "Yesterday", "Mar 4" or "Mar 4, 2023".
pub fn day_label(lang: Lang, t: &Strings, ms: i64, now: i64) -> String {
    let (day, today) = (local_day(ms), local_day(now));
    if day == today {
        t.today.to_string()
    } else if day == today - 1 {
        t.yesterday.to_string()
    } else if date(ms).get_full_year() == date(now).get_full_year() {
        month_day(lang, ms)
    } else {
        full_date(lang, ms)
    }
}

/// The conversation list's time: the clock today, else the date.
pub fn list_time(lang: Lang, t: &Strings, ms: i64, now: i64) -> String {
    let (day, today) = (local_day(ms), local_day(now));
    if day == today {
        clock(ms)
    } else if day == today - 1 {
        t.yesterday.to_string()
    } else if date(ms).get_full_year() == date(now).get_full_year() {
        month_day(lang, ms)
    } else {
        full_date(lang, ms)
    }
}

/// A full local date and time, for tooltips.
pub fn full(lang: Lang, ms: i64) -> String {
    format!("{} {}", full_date(lang, ms), clock(ms))
}
