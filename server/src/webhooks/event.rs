//! What happened: the event kinds Tollgate reports and the envelope generic targets receive.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "account.rate_limited")]
    AccountRateLimited,
    #[serde(rename = "account.overloaded")]
    AccountOverloaded,
    #[serde(rename = "account.error")]
    AccountError,
    #[serde(rename = "account.recovered")]
    AccountRecovered,
    #[serde(rename = "account.budget_warning")]
    AccountBudgetWarning,
    #[serde(rename = "account.budget_exhausted")]
    AccountBudgetExhausted,
    #[serde(rename = "key.quota_warning")]
    KeyQuotaWarning,
    #[serde(rename = "key.quota_exhausted")]
    KeyQuotaExhausted,
    #[serde(rename = "key.expired")]
    KeyExpired,
    #[serde(rename = "pool.saturated")]
    PoolSaturated,
    #[serde(rename = "system.error")]
    SystemError,
    #[serde(rename = "usage.dead_letter")]
    UsageDeadLetter,
    /// Sent by "test" in the dashboard.
    #[serde(rename = "test")]
    Test,
}

impl EventKind {
    pub const ALL: [EventKind; 13] = [
        EventKind::AccountRateLimited,
        EventKind::AccountOverloaded,
        EventKind::AccountError,
        EventKind::AccountRecovered,
        EventKind::AccountBudgetWarning,
        EventKind::AccountBudgetExhausted,
        EventKind::KeyQuotaWarning,
        EventKind::KeyQuotaExhausted,
        EventKind::KeyExpired,
        EventKind::PoolSaturated,
        EventKind::SystemError,
        EventKind::UsageDeadLetter,
        EventKind::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::AccountRateLimited => "account.rate_limited",
            EventKind::AccountOverloaded => "account.overloaded",
            EventKind::AccountError => "account.error",
            EventKind::AccountRecovered => "account.recovered",
            EventKind::AccountBudgetWarning => "account.budget_warning",
            EventKind::AccountBudgetExhausted => "account.budget_exhausted",
            EventKind::KeyQuotaWarning => "key.quota_warning",
            EventKind::KeyQuotaExhausted => "key.quota_exhausted",
            EventKind::KeyExpired => "key.expired",
            EventKind::PoolSaturated => "pool.saturated",
            EventKind::SystemError => "system.error",
            EventKind::UsageDeadLetter => "usage.dead_letter",
            EventKind::Test => "test",
        }
    }

    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The short Chinese title chat messages start with (the English name follows it).
    pub fn title(self) -> &'static str {
        match self {
            EventKind::AccountRateLimited => "账户限流",
            EventKind::AccountOverloaded => "账户过载",
            EventKind::AccountError => "账户异常",
            EventKind::AccountRecovered => "账户恢复",
            EventKind::AccountBudgetWarning => "账户余额预警",
            EventKind::AccountBudgetExhausted => "账户余额用尽",
            EventKind::KeyQuotaWarning => "额度预警",
            EventKind::KeyQuotaExhausted => "额度用尽",
            EventKind::KeyExpired => "密钥过期",
            EventKind::PoolSaturated => "账户池饱和",
            EventKind::SystemError => "系统错误",
            EventKind::UsageDeadLetter => "用量记录被拒",
            EventKind::Test => "测试消息",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::parse(s).ok_or_else(|| format!("unknown event {s:?}"))
    }
}

/// The body generic targets receive, exactly `{"event", "timestamp", "data"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    pub event: EventKind,
    /// RFC 3339, UTC, milliseconds: `2025-01-31T08:00:00.123Z`.
    pub timestamp: String,
    pub data: Value,
}

/// Fields that name what an event is about, in the order the summary looks for them.
const SUBJECT_FIELDS: &[&str] = &["name", "accountName", "keyName", "account", "key", "id"];
const SUMMARY_MAX_CHARS: usize = 600;

impl WebhookEvent {
    pub fn new(event: EventKind, data: Value) -> Self {
        Self::at(event, data, Utc::now())
    }

    pub fn at(event: EventKind, data: Value, now: DateTime<Utc>) -> Self {
        WebhookEvent {
            event,
            timestamp: now.to_rfc3339_opts(SecondsFormat::Millis, true),
            data,
        }
    }

    /// One compact line for chat tools:
    /// `[Tollgate] 账户限流 account.rate_limited: claude-1 (status=429, retryAfterSecs=30)`.
    pub fn summary(&self) -> String {
        self.summary_with(str::to_owned)
    }

    /// The summary with every piece of event data (names, upstream error text) passed through
    /// `escape`, for chat formats that would read markup in it.
    pub fn summary_with(&self, escape: impl Fn(&str) -> String) -> String {
        let text_of = |v: &Value| escape(&scalar_text(v));
        let mut line = format!("[Tollgate] {} {}", self.event.title(), self.event.as_str());
        let (subject, details) = match &self.data {
            Value::Object(map) => {
                let subject_key = SUBJECT_FIELDS
                    .iter()
                    .find(|k| map.get(**k).is_some_and(is_scalar));
                let subject = subject_key.and_then(|k| map.get(*k)).map(text_of);
                let details: Vec<String> = map
                    .iter()
                    .filter(|(k, v)| Some(&k.as_str()) != subject_key && is_scalar(v))
                    .map(|(k, v)| format!("{}={}", escape(k), text_of(v)))
                    .collect();
                (subject, details)
            }
            Value::Null => (None, Vec::new()),
            other if is_scalar(other) => (Some(text_of(other)), Vec::new()),
            _ => (None, Vec::new()),
        };
        if let Some(subject) = subject {
            line.push_str(": ");
            line.push_str(&subject);
        }
        if !details.is_empty() {
            line.push_str(" (");
            line.push_str(&details.join(", "));
            line.push(')');
        }
        truncate_chars(&line, SUMMARY_MAX_CHARS)
    }
}

fn is_scalar(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

fn scalar_text(v: &Value) -> String {
    match v {
        // Newlines would break the one-line layout of chat messages.
        Value::String(s) => s.replace(['\n', '\r'], " "),
        other => other.to_string(),
    }
}

/// At most `max` characters, with `…` marking a cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// At most `max` bytes of UTF-8, cut on a character boundary, with `…` marking a cut.
pub fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let budget = max.saturating_sub('…'.len_utf8());
    let mut end = budget.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_round_trip_and_match_the_dashboard_list() {
        for kind in EventKind::ALL {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.as_str());
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, app::types::WEBHOOK_EVENT_NAMES);
        assert!(EventKind::parse("account.bogus").is_none());
    }

    #[test]
    fn envelope_shape() {
        let now = DateTime::parse_from_rfc3339("2025-01-31T08:00:00.5Z")
            .unwrap()
            .with_timezone(&Utc);
        let ev = WebhookEvent::at(EventKind::KeyExpired, json!({"keyName": "trial"}), now);
        let body = serde_json::to_string(&ev).unwrap();
        assert_eq!(
            body,
            r#"{"event":"key.expired","timestamp":"2025-01-31T08:00:00.500Z","data":{"keyName":"trial"}}"#
        );
    }

    #[test]
    fn summary_is_one_compact_line() {
        let ev = WebhookEvent::new(
            EventKind::AccountRateLimited,
            json!({"name": "claude-1", "message": "slow\ndown", "nested": {"x": 1}, "status": 429}),
        );
        assert_eq!(
            ev.summary(),
            "[Tollgate] 账户限流 account.rate_limited: claude-1 (message=slow down, status=429)"
        );
        let bare = WebhookEvent::new(EventKind::SystemError, Value::Null);
        assert_eq!(bare.summary(), "[Tollgate] 系统错误 system.error");
        let long = WebhookEvent::new(EventKind::SystemError, json!("x".repeat(2000)));
        assert_eq!(long.summary().chars().count(), SUMMARY_MAX_CHARS);
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate_chars("abcdef", 4), "abc…");
        assert_eq!(truncate_chars("abc", 4), "abc");
        let cut = truncate_bytes("账户账户", 8);
        assert!(cut.len() <= 8 && cut.ends_with('…'), "{cut}");
        assert_eq!(truncate_bytes("abc", 8), "abc");
    }
}
