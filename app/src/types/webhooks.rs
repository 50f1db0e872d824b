//! Webhook targets and their delivery log, as the dashboard and the REST API see them. URLs and
//! secrets go in (inputs) but never come back out: answers carry only a masked `urlHint`.

use serde::{Deserialize, Serialize};

/// Every event name a target can subscribe to, in the order the dashboard lists them.
pub const WEBHOOK_EVENT_NAMES: &[&str] = &[
    "account.rate_limited",
    "account.overloaded",
    "account.error",
    "account.recovered",
    "account.budget_warning",
    "account.budget_exhausted",
    "key.quota_warning",
    "key.quota_exhausted",
    "key.expired",
    "pool.saturated",
    "system.error",
    "usage.dead_letter",
    "test",
];

/// Every target kind: `generic` signed JSON, or a chat tool's native message format.
pub const WEBHOOK_TARGET_KINDS: &[&str] = &[
    "generic", "wecom", "dingtalk", "feishu", "slack", "discord", "telegram",
];

/// Kinds whose requests are signed with the target's secret.
pub const WEBHOOK_SIGNED_KINDS: &[&str] = &["generic", "dingtalk", "feishu"];

/// A webhook target configured in the dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookTarget {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// The URL with its credentials masked, e.g. `https://qyapi.weixin.qq.com/…a589`.
    pub url_hint: String,
    /// Subscribed event names; empty means every event.
    pub events: Vec<String>,
    pub enabled: bool,
    /// True when a signing secret is stored (generic, DingTalk, Feishu).
    pub has_secret: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `POST /admin/webhooks` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookTargetInput {
    pub name: String,
    pub kind: String,
    pub url: String,
    /// Signing secret for generic, DingTalk and Feishu targets.
    #[serde(default)]
    pub secret: Option<String>,
    /// Telegram chat id (`-100…` or `@channel`); required for Telegram targets.
    #[serde(default)]
    pub chat_id: Option<String>,
    /// Event names to deliver; empty means every event.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default = "default_enabled")]
    pub enabled: bool,
}

fn default_enabled() -> bool {
    true
}

/// `PATCH /admin/webhooks/{id}` body: absent fields stay as they are; an empty `secret` removes
/// the stored one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookTargetPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub chat_id: Option<String>,
    #[serde(default)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// The outcome of one test send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookTestResult {
    pub http_status: Option<u16>,
    pub ok: bool,
    /// Why it failed; never contains the target's URL or secret.
    pub error: Option<String>,
    pub latency_ms: u64,
}

/// One delivery attempt from the log, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    pub id: i64,
    /// The dashboard target, or none for a `WEBHOOK_URLS` target.
    pub target_id: Option<String>,
    pub target_hint: String,
    pub event: String,
    pub attempt: u32,
    pub http_status: Option<u16>,
    pub ok: bool,
    pub error: Option<String>,
    pub created_at: i64,
}
