//! Where events go: a target's kind, URL and credentials, decrypted only for the moment of
//! delivery, and the masked hint that is the only form of the URL ever shown or logged.

use std::fmt;

use url::Url;

use super::event::EventKind;
use crate::crypto::{Binding, Cipher};
use crate::secret::Secret;
use crate::storage::webhooks::WebhookTargetRow;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// Tollgate's own JSON envelope, signed with `X-Tollgate-Signature`.
    Generic,
    /// 企业微信 group bot.
    Wecom,
    /// 钉钉 custom robot.
    Dingtalk,
    /// 飞书 / Lark custom bot.
    Feishu,
    Slack,
    Discord,
    /// Bot API `sendMessage`; the chat id is part of the target.
    Telegram,
}

impl TargetKind {
    pub const ALL: [TargetKind; 7] = [
        TargetKind::Generic,
        TargetKind::Wecom,
        TargetKind::Dingtalk,
        TargetKind::Feishu,
        TargetKind::Slack,
        TargetKind::Discord,
        TargetKind::Telegram,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Generic => "generic",
            TargetKind::Wecom => "wecom",
            TargetKind::Dingtalk => "dingtalk",
            TargetKind::Feishu => "feishu",
            TargetKind::Slack => "slack",
            TargetKind::Discord => "discord",
            TargetKind::Telegram => "telegram",
        }
    }

    pub fn parse(name: &str) -> Option<TargetKind> {
        TargetKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Kinds whose requests carry a signature made with the target's secret.
    pub fn is_signed(self) -> bool {
        matches!(
            self,
            TargetKind::Generic | TargetKind::Dingtalk | TargetKind::Feishu
        )
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A target ready for delivery, credentials decrypted.
#[derive(Clone, Debug)]
pub struct Target {
    /// The dashboard target's id; `None` for a `WEBHOOK_URLS` entry.
    pub id: Option<String>,
    pub hint: String,
    pub kind: TargetKind,
    pub url: Secret<String>,
    /// Signing secret (generic, DingTalk, Feishu).
    pub secret: Option<Secret<String>>,
    /// Telegram only.
    pub chat_id: Option<Secret<String>>,
    /// Subscribed events; empty means all.
    pub events: Vec<EventKind>,
}

impl Target {
    /// A `WEBHOOK_URLS` entry: generic JSON, every event, signed with `WEBHOOK_SECRET`.
    pub fn from_env(url: &Secret<String>, secret: Option<&Secret<String>>) -> Result<Self, String> {
        let parsed = parse_target_url(url.expose().trim())?;
        Ok(Target {
            id: None,
            hint: url_hint(&parsed),
            kind: TargetKind::Generic,
            url: Secret::new(parsed.to_string()),
            secret: secret.cloned(),
            chat_id: None,
            events: Vec::new(),
        })
    }

    /// Decrypts a stored target. Telegram targets keep their chat id where the others keep
    /// their signing secret (`secret_enc`), encrypted alike.
    pub fn from_row(row: &WebhookTargetRow, cipher: &Cipher) -> anyhow::Result<Self> {
        let kind = TargetKind::parse(&row.kind)
            .ok_or_else(|| anyhow::anyhow!("unknown webhook kind {:?}", row.kind))?;
        let url = cipher.decrypt(Binding::webhook_url(&row.id), &row.url_enc)?;
        let stored = row
            .secret_enc
            .as_deref()
            .map(|enc| cipher.decrypt(Binding::webhook_secret(&row.id), enc))
            .transpose()?;
        let (secret, chat_id) = if kind == TargetKind::Telegram {
            (None, stored)
        } else {
            (stored, None)
        };
        Ok(Target {
            id: Some(row.id.clone()),
            hint: row.url_hint.clone(),
            kind,
            url,
            secret,
            chat_id,
            events: parse_events(&row.events),
        })
    }

    pub fn accepts(&self, event: EventKind) -> bool {
        self.events.is_empty() || self.events.contains(&event)
    }
}

/// Event names stored as a JSON array; names this version does not know are skipped.
pub fn parse_events(json: &str) -> Vec<EventKind> {
    serde_json::from_str::<Vec<String>>(json)
        .unwrap_or_default()
        .iter()
        .filter_map(|name| EventKind::parse(name))
        .collect()
}

/// An absolute `http`/`https` URL with a host; the message says what is wrong without echoing it.
pub fn parse_target_url(raw: &str) -> Result<Url, String> {
    if raw.len() > 2048 {
        return Err("is longer than 2048 characters".into());
    }
    let url = Url::parse(raw).map_err(|_| "is not a valid URL".to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must start with http:// or https://".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    Ok(url)
}

/// The URL with everything that may be a credential masked: scheme, host and port, then the
/// last four characters, e.g. `https://qyapi.weixin.qq.com/…a589`.
pub fn url_hint(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    let origin = match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    };
    let rest: String = {
        let mut r = url.path().trim_start_matches('/').to_owned();
        if let Some(q) = url.query() {
            r.push('?');
            r.push_str(q);
        }
        r
    };
    let chars: Vec<char> = rest.chars().collect();
    if chars.len() <= 8 {
        // Too short to show a tail without showing most of it.
        return if chars.is_empty() {
            format!("{origin}/")
        } else {
            format!("{origin}/…")
        };
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{origin}/…{tail}")
}

/// Replaces every piece of the target's URL and credentials that `text` might echo back.
pub fn scrub(text: &str, target: &Target) -> String {
    let mut needles: Vec<String> = vec![target.url.expose().clone()];
    if let Some(s) = &target.secret {
        needles.push(s.expose().clone());
    }
    if let Ok(url) = Url::parse(target.url.expose()) {
        needles.extend(
            url.path_segments()
                .into_iter()
                .flatten()
                .map(str::to_owned)
                .chain(url.query_pairs().map(|(_, v)| v.into_owned()))
                .chain(url.password().map(str::to_owned))
                .filter(|piece| piece.len() >= 8),
        );
    }
    needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let mut out = text.to_owned();
    for needle in needles.iter().filter(|n| !n.is_empty()) {
        out = out.replace(needle.as_str(), "[redacted]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_the_dashboard_list() {
        let names: Vec<&str> = TargetKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, app::types::WEBHOOK_TARGET_KINDS);
        let signed: Vec<&str> = TargetKind::ALL
            .iter()
            .filter(|k| k.is_signed())
            .map(|k| k.as_str())
            .collect();
        assert_eq!(signed, app::types::WEBHOOK_SIGNED_KINDS);
    }

    #[test]
    fn urls_are_checked_without_echoing_them() {
        assert!(parse_target_url("https://example.com/hook").is_ok());
        let err = parse_target_url("ftp://example.com/secret-token").unwrap_err();
        assert!(!err.contains("secret-token"));
        assert!(parse_target_url("not a url").is_err());
        assert!(parse_target_url("http://").is_err());
        assert!(parse_target_url("mailto:ops@example.com").is_err());
    }

    #[test]
    fn hints_mask_credentials() {
        let hint = |s: &str| url_hint(&Url::parse(s).unwrap());
        assert_eq!(
            hint("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=633a31f6-7f9c-4bc4-97a0-0ec1eefa5898"),
            "https://qyapi.weixin.qq.com/…5898"
        );
        assert_eq!(
            hint("https://api.telegram.org/bot123456:ABCdef/sendMessage"),
            "https://api.telegram.org/…sage"
        );
        assert_eq!(hint("http://127.0.0.1:9000/"), "http://127.0.0.1:9000/");
        assert_eq!(
            hint("http://127.0.0.1:9000/hook"),
            "http://127.0.0.1:9000/…"
        );
    }

    #[test]
    fn scrub_removes_url_pieces_and_secrets() {
        let target = Target {
            id: None,
            hint: String::new(),
            kind: TargetKind::Dingtalk,
            url: Secret::new(
                "https://oapi.dingtalk.com/robot/send?access_token=tok123456789".into(),
            ),
            secret: Some(Secret::new("SECabcdef".into())),
            chat_id: None,
            events: vec![],
        };
        let text = "bad token tok123456789 for https://oapi.dingtalk.com/robot/send?access_token=tok123456789 with SECabcdef";
        let clean = scrub(text, &target);
        assert!(
            !clean.contains("tok123456789") && !clean.contains("SECabcdef"),
            "{clean}"
        );
    }
}
