//! zh-CN and English text for the dashboard, and locale-aware formatting.
//!
//! The locale comes from the `tg_lang` cookie, else from `Accept-Language`; the server renders it
//! into `<html lang>` and the browser reads it back from there when it hydrates, so both sides
//! always agree. Switching language sets the cookie and reloads the page.

mod accounts;
mod common;
mod format;
mod import;
mod keys;
mod overview;
mod renewals;
mod reports;
mod sales;
mod settings;
mod staff;

use serde::{Deserialize, Serialize};

pub use format::*;

pub const LANG_COOKIE: &str = "tg_lang";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Locale {
    #[default]
    En,
    ZhCn,
}

impl Locale {
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }

    pub fn from_tag(tag: &str) -> Option<Locale> {
        let tag = tag.trim().to_ascii_lowercase();
        if tag.starts_with("zh") {
            Some(Locale::ZhCn)
        } else if tag.starts_with("en") {
            Some(Locale::En)
        } else {
            None
        }
    }

    /// Picks the first supported language of an `Accept-Language` header, honouring `q` weights.
    pub fn from_accept_language(header: &str) -> Locale {
        let mut best: Option<(f32, Locale)> = None;
        for part in header.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or_default();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(locale) = Locale::from_tag(tag) {
                if best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, locale));
                }
            }
        }
        best.map(|(_, l)| l).unwrap_or_default()
    }

    /// Resolves the locale of a request from its `Cookie` and `Accept-Language` headers.
    pub fn from_headers(cookie: Option<&str>, accept_language: Option<&str>) -> Locale {
        if let Some(cookie) = cookie {
            for pair in cookie.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=') {
                    if k == LANG_COOKIE {
                        if let Some(l) = Locale::from_tag(v) {
                            return l;
                        }
                    }
                }
            }
        }
        accept_language
            .map(Locale::from_accept_language)
            .unwrap_or_default()
    }

    pub fn other(self) -> Locale {
        match self {
            Locale::En => Locale::ZhCn,
            Locale::ZhCn => Locale::En,
        }
    }

    /// The name of this language in itself, for the switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::ZhCn => "中文",
        }
    }
}

/// `(key, English, 中文)`. Missing keys render as the key itself, which the tests catch.
const TEXTS: &[(&str, &str, &str)] = &[
    ("app.name", "Tollgate", "Tollgate"),
    ("app.tagline", "LLM API relay", "LLM API 中转"),
    ("nav.overview", "Overview", "概览"),
    ("nav.keys", "API keys", "API 密钥"),
    ("nav.accounts", "Accounts", "上游账户"),
    ("nav.groups", "Groups", "账户分组"),
    ("nav.usage", "Usage & margin", "用量与毛利"),
    ("nav.settings", "Settings", "设置"),
    ("nav.logout", "Log out", "退出登录"),
    ("nav.menu", "Menu", "菜单"),
    ("login.title", "Sign in to Tollgate", "登录 Tollgate"),
    ("login.username", "Username", "用户名"),
    ("login.password", "Password", "密码"),
    ("login.submit", "Sign in", "登录"),
    ("login.pending", "Signing in…", "正在登录…"),
    (
        "error.bad_credentials",
        "Wrong username or password.",
        "用户名或密码错误。",
    ),
    (
        "error.throttled",
        "Too many failed attempts. Try again in a minute.",
        "失败次数过多，请一分钟后再试。",
    ),
    (
        "error.unauthorized",
        "Your session has ended. Please sign in again.",
        "会话已失效，请重新登录。",
    ),
    (
        "error.internal",
        "Something went wrong on the server. Details are in the server log.",
        "服务器出错，详情见服务器日志。",
    ),
    (
        "error.transport",
        "The server could not be reached.",
        "无法连接服务器。",
    ),
    ("error.not_found", "Not found.", "未找到。"),
    ("error.generic", "The request failed.", "请求失败。"),
    ("overview.title", "Overview", "概览"),
    ("overview.accounts", "Upstream accounts", "上游账户"),
    ("overview.active_accounts", "active", "可用"),
    ("overview.groups", "Account groups", "账户分组"),
    ("overview.keys", "API keys", "API 密钥"),
    ("overview.active_keys", "active", "有效"),
    ("overview.loading", "Loading…", "加载中…"),
    (
        "overview.live",
        "Live · last {n} min",
        "实时 · 最近 {n} 分钟",
    ),
    ("settings.title", "Settings", "设置"),
    ("settings.password", "Change password", "修改密码"),
    ("settings.current_password", "Current password", "当前密码"),
    (
        "settings.new_password",
        "New password (at least 12 characters)",
        "新密码（至少 12 位）",
    ),
    ("settings.save_password", "Change password", "修改密码"),
    (
        "settings.password_changed",
        "Password changed.",
        "密码已修改。",
    ),
    ("common.saving", "Saving…", "保存中…"),
    ("common.language", "Language", "语言"),
    ("notfound.title", "Page not found", "页面不存在"),
    ("notfound.back", "Back to the overview", "返回概览"),
];

/// Every table of texts: the shell's above, and one per area of the dashboard.
const TABLES: &[&[(&str, &str, &str)]] = &[
    TEXTS,
    common::TEXTS,
    overview::TEXTS,
    keys::TEXTS,
    accounts::TEXTS,
    reports::TEXTS,
    settings::TEXTS,
    import::TEXTS,
    sales::TEXTS,
    staff::TEXTS,
    renewals::TEXTS,
];

pub fn t(locale: Locale, key: &'static str) -> &'static str {
    match TABLES
        .iter()
        .flat_map(|table| table.iter())
        .find(|(k, _, _)| *k == key)
    {
        Some((_, en, zh)) => match locale {
            Locale::En => en,
            Locale::ZhCn => zh,
        },
        None => key,
    }
}

/// The message to show for an admin error, in the user's language.
pub fn error_text(locale: Locale, err: &crate::error::AdminError) -> String {
    use crate::error::AdminError as E;
    match err {
        E::BadCredentials => t(locale, "error.bad_credentials").to_string(),
        E::Throttled { .. } => t(locale, "error.throttled").to_string(),
        E::Unauthorized => t(locale, "error.unauthorized").to_string(),
        E::Internal => t(locale, "error.internal").to_string(),
        E::Transport { .. } => t(locale, "error.transport").to_string(),
        E::NotFound { .. } => t(locale, "error.not_found").to_string(),
        E::Validation { field, message } => t(locale, "error.validation")
            .replace("{field}", field)
            .replace("{message}", message),
        E::Conflict { message } => t(locale, "error.conflict").replace("{message}", message),
        E::Forbidden { .. } => t(locale, "error.forbidden").to_string(),
        E::TotpRequired => t(locale, "error.totp_required").to_string(),
        E::TotpSetupRequired => t(locale, "error.totp_setup_required").to_string(),
    }
}

/// Groups the digits of an integer: `1234567` → `1,234,567`.
pub fn fmt_int(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Epoch milliseconds as a local-looking timestamp in UTC (`2026-11-28 06:28`).
pub fn fmt_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_translated() {
        let all: Vec<_> = TABLES.iter().flat_map(|t| t.iter()).collect();
        for (i, (k, en, zh)) in all.iter().enumerate() {
            assert!(!en.is_empty() && !zh.is_empty(), "{k} has an empty text");
            assert!(
                all[i + 1..].iter().all(|(k2, _, _)| k2 != k),
                "duplicate key {k}"
            );
        }
    }

    /// Every `tr("…")` and `t(…, "…")` in the sources names a key with both texts.
    #[test]
    fn every_key_used_in_the_sources_exists() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let known = |key: &str| {
            TABLES
                .iter()
                .flat_map(|t| t.iter())
                .any(|(k, _, _)| *k == key)
        };
        let mut missing = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for marker in ["tr(\"", "locale, \""] {
                for (at, _) in text.match_indices(marker) {
                    let rest = &text[at + marker.len()..];
                    let key = &rest[..rest.find('"').unwrap()];
                    let looks_like_key =
                        key.contains('.') && !key.contains(' ') && !key.contains('{');
                    if looks_like_key && !known(key) {
                        missing.push(format!("{}: {key}", file.display()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys without texts:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn accept_language_weights() {
        assert_eq!(
            Locale::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Locale::ZhCn
        );
        assert_eq!(Locale::from_accept_language("en-US,zh;q=0.5"), Locale::En);
        assert_eq!(Locale::from_accept_language("fr, zh;q=0.3"), Locale::ZhCn);
        assert_eq!(Locale::from_accept_language("fr"), Locale::En);
        assert_eq!(
            Locale::from_headers(Some("a=b; tg_lang=zh-CN"), Some("en")),
            Locale::ZhCn
        );
    }

    #[test]
    fn money_and_numbers() {
        assert_eq!(fmt_int(1234567), "1,234,567");
        assert_eq!(fmt_int(-1000), "-1,000");
    }
}
