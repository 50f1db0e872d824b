//! The request each kind of target expects: Tollgate's signed JSON envelope, or the native
//! message of 企业微信, 钉钉, 飞书, Slack, Discord and Telegram with their signing schemes.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use url::Url;

use super::event::{truncate_bytes, truncate_chars, WebhookEvent};
use super::target::{Target, TargetKind};

pub const SIGNATURE_HEADER: &str = "X-Tollgate-Signature";
pub const EVENT_HEADER: &str = "X-Tollgate-Event";
pub const DELIVERY_HEADER: &str = "X-Tollgate-Delivery";

/// Message size limits of the chat tools (WeCom counts bytes, the others characters).
const WECOM_MAX_BYTES: usize = 4096;
const DINGTALK_MAX_CHARS: usize = 5000;
const FEISHU_MAX_CHARS: usize = 4000;
const SLACK_MAX_CHARS: usize = 3000;
const DISCORD_MAX_CHARS: usize = 2000;
const TELEGRAM_MAX_CHARS: usize = 4096;

/// One HTTP POST, ready to send.
#[derive(Debug)]
pub struct Outbound {
    pub url: Url,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    #[error("the stored target URL is invalid")]
    BadUrl,
    #[error("telegram target has no chat id")]
    MissingChatId,
    #[error("could not encode the message")]
    Encoding,
}

/// Builds the request for `target`. `now` stamps the DingTalk and Feishu signatures, so every
/// attempt renders afresh; `fallback_secret` signs generic targets without a secret of their own.
pub fn render(
    target: &Target,
    event: &WebhookEvent,
    delivery_id: &str,
    fallback_secret: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Outbound, RenderError> {
    let mut url = Url::parse(target.url.expose()).map_err(|_| RenderError::BadUrl)?;
    let mut headers = vec![
        ("Content-Type", "application/json".to_owned()),
        (EVENT_HEADER, event.event.as_str().to_owned()),
        (DELIVERY_HEADER, delivery_id.to_owned()),
    ];
    let secret = target.secret.as_ref().map(|s| s.expose().as_str());
    let text = message_text(event);
    let body: Value = match target.kind {
        TargetKind::Generic => {
            let body = serde_json::to_vec(event).map_err(|_| RenderError::Encoding)?;
            if let Some(key) = secret.or(fallback_secret) {
                headers.push((SIGNATURE_HEADER, generic_signature(key, &body)?));
            }
            return Ok(Outbound { url, headers, body });
        }
        TargetKind::Wecom => json!({
            "msgtype": "markdown",
            "markdown": { "content": truncate_bytes(&markdown_text(event), WECOM_MAX_BYTES) },
        }),
        TargetKind::Dingtalk => {
            if let Some(secret) = secret {
                let timestamp = now.timestamp_millis().to_string();
                let sign = dingtalk_sign(secret, &timestamp)?;
                // `append_pair` form-encodes the base64 (`+` → `%2B`, ...), as DingTalk requires.
                url.query_pairs_mut()
                    .append_pair("timestamp", &timestamp)
                    .append_pair("sign", &sign);
            }
            json!({
                "msgtype": "markdown",
                "markdown": {
                    "title": format!("[Tollgate] {}", event.event.title()),
                    // DingTalk's markdown needs a blank line for a line break.
                    "text": truncate_chars(&markdown_text(event).replace('\n', "\n\n"), DINGTALK_MAX_CHARS),
                },
            })
        }
        TargetKind::Feishu => {
            let mut body = json!({
                "msg_type": "text",
                "content": { "text": truncate_chars(&text, FEISHU_MAX_CHARS) },
            });
            if let Some(secret) = secret {
                let timestamp = now.timestamp().to_string();
                body["timestamp"] = json!(timestamp);
                body["sign"] = json!(feishu_sign(secret, &timestamp)?);
            }
            body
        }
        TargetKind::Slack => {
            json!({ "text": truncate_chars(&slack_escape(&text), SLACK_MAX_CHARS) })
        }
        TargetKind::Discord => json!({
            "content": truncate_chars(&text, DISCORD_MAX_CHARS),
            // Names in events must not ping @everyone.
            "allowed_mentions": { "parse": [] },
        }),
        TargetKind::Telegram => {
            let chat = target.chat_id.as_ref().ok_or(RenderError::MissingChatId)?;
            let chat = chat.expose().trim();
            let chat_id = chat
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(chat));
            json!({
                "chat_id": chat_id,
                "text": truncate_chars(&telegram_escape(&text), TELEGRAM_MAX_CHARS),
                "parse_mode": "Markdown",
            })
        }
    };
    let body = serde_json::to_vec(&body).map_err(|_| RenderError::Encoding)?;
    Ok(Outbound { url, headers, body })
}

/// The human text chat tools show: the summary line, then when it happened.
fn message_text(event: &WebhookEvent) -> String {
    format!("{}\n{}", event.summary(), event.timestamp)
}

/// The text for WeCom's and DingTalk's markdown: event data cannot add links, images, mentions
/// (`<@userid>`), `<font>` tags, emphasis or code.
fn markdown_text(event: &WebhookEvent) -> String {
    format!(
        "{}\n{}",
        event.summary_with(markdown_escape),
        event.timestamp
    )
}

/// Neither chat tool documents an escape character for its markdown, so the characters that
/// open markup are replaced by their full-width forms, which read the same and mean nothing.
/// `_` is left alone: names like `claude_pool` are common, and at worst it italicises.
fn markdown_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '[' => '［',
            ']' => '］',
            '<' => '＜',
            '>' => '＞',
            '*' => '＊',
            '`' => '｀',
            '#' => '＃',
            '~' => '～',
            '|' => '｜',
            '\\' => '＼',
            other => other,
        })
        .collect()
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Result<Vec<u8>, RenderError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| RenderError::Encoding)?;
    mac.update(message);
    Ok(mac.finalize().into_bytes().to_vec())
}

/// `sha256=<hex HMAC-SHA256 of the raw body>`.
pub fn generic_signature(secret: &str, body: &[u8]) -> Result<String, RenderError> {
    Ok(format!(
        "sha256={}",
        hex::encode(hmac_sha256(secret.as_bytes(), body)?)
    ))
}

/// DingTalk: base64(HMAC-SHA256(key = secret, message = "{timestamp}\n{secret}")), timestamp in
/// milliseconds; sent URL-encoded as the `sign` query parameter.
pub fn dingtalk_sign(secret: &str, timestamp_ms: &str) -> Result<String, RenderError> {
    let message = format!("{timestamp_ms}\n{secret}");
    Ok(B64.encode(hmac_sha256(secret.as_bytes(), message.as_bytes())?))
}

/// Feishu: base64(HMAC-SHA256(key = "{timestamp}\n{secret}", message = "")), timestamp in
/// seconds; sent as `timestamp` and `sign` in the body.
pub fn feishu_sign(secret: &str, timestamp_s: &str) -> Result<String, RenderError> {
    let key = format!("{timestamp_s}\n{secret}");
    Ok(B64.encode(hmac_sha256(key.as_bytes(), b"")?))
}

/// Slack treats `<`, `>` and `&` as markup.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Telegram's legacy Markdown fails the whole message on an unpaired `_`, `*`, `` ` `` or `[`.
fn telegram_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(c, '_' | '*' | '`' | '[') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::webhooks::event::EventKind;

    fn target(kind: TargetKind, url: &str, secret: Option<&str>) -> Target {
        Target {
            id: None,
            hint: String::new(),
            kind,
            url: Secret::new(url.into()),
            secret: secret.map(|s| Secret::new(s.into())),
            chat_id: None,
            events: vec![],
        }
    }

    fn event() -> WebhookEvent {
        WebhookEvent::new(
            EventKind::AccountError,
            json!({"name": "acct_1 <prod>", "status": 401}),
        )
    }

    fn body(out: &Outbound) -> Value {
        serde_json::from_slice(&out.body).unwrap()
    }

    #[test]
    fn generic_is_the_envelope_with_a_verifiable_signature() {
        let t = target(TargetKind::Generic, "http://127.0.0.1/hook", None);
        let ev = event();
        let out = render(&t, &ev, "d-1", Some("k"), Utc::now()).unwrap();
        assert_eq!(body(&out), serde_json::to_value(&ev).unwrap());
        let sig = out
            .headers
            .iter()
            .find(|(n, _)| *n == SIGNATURE_HEADER)
            .unwrap();
        assert_eq!(sig.1, generic_signature("k", &out.body).unwrap());
        let unsigned = render(&t, &ev, "d-1", None, Utc::now()).unwrap();
        assert!(unsigned.headers.iter().all(|(n, _)| *n != SIGNATURE_HEADER));
    }

    #[test]
    fn dingtalk_signature_matches_the_documented_recipe() {
        // HMAC-SHA256(key="SECtest", msg="1700000000000\nSECtest"), base64.
        let sign = dingtalk_sign("SECtest", "1700000000000").unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(b"SECtest").unwrap();
        mac.update(b"1700000000000\nSECtest");
        assert_eq!(sign, B64.encode(mac.finalize().into_bytes()));
        let t = target(
            TargetKind::Dingtalk,
            "http://127.0.0.1/robot/send?access_token=abc",
            Some("SECtest"),
        );
        let now = DateTime::from_timestamp_millis(1_700_000_000_000).unwrap();
        let out = render(&t, &event(), "d", None, now).unwrap();
        let pairs: Vec<(String, String)> = out.url.query_pairs().into_owned().collect();
        assert_eq!(pairs[0], ("access_token".into(), "abc".into()));
        assert_eq!(pairs[1], ("timestamp".into(), "1700000000000".into()));
        assert_eq!(pairs[2], ("sign".into(), sign));
        assert_eq!(body(&out)["msgtype"], "markdown");
    }

    #[test]
    fn feishu_signature_keys_the_hmac_with_timestamp_and_secret() {
        let t = target(TargetKind::Feishu, "http://127.0.0.1/hook", Some("s3"));
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let b = body(&render(&t, &event(), "d", None, now).unwrap());
        assert_eq!(b["timestamp"], "1700000000");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"1700000000\ns3").unwrap();
        mac.update(b"");
        assert_eq!(b["sign"], B64.encode(mac.finalize().into_bytes()));
        assert_eq!(b["msg_type"], "text");
        assert!(b["content"]["text"]
            .as_str()
            .unwrap()
            .starts_with("[Tollgate] 账户异常"));
    }

    #[test]
    fn markdown_formats_neutralise_names_and_error_text() {
        let hostile = WebhookEvent::new(
            EventKind::AccountError,
            json!({
                "name": "[click me](http://evil.example) <@all> <font color=\"warning\">x</font>",
                "message": "**upstream** said `no` # ~~gone~~ | _x_ \\",
                "status": 403,
            }),
        );
        let wecom = body(
            &render(
                &target(TargetKind::Wecom, "http://x/", None),
                &hostile,
                "d",
                None,
                Utc::now(),
            )
            .unwrap(),
        );
        let dingtalk = body(
            &render(
                &target(TargetKind::Dingtalk, "http://x/", None),
                &hostile,
                "d",
                None,
                Utc::now(),
            )
            .unwrap(),
        );
        for text in [
            wecom["markdown"]["content"].as_str().unwrap(),
            dingtalk["markdown"]["text"].as_str().unwrap(),
        ] {
            let data = text.split_once(": ").unwrap().1;
            for markup in ['[', ']', '<', '>', '*', '`', '#', '~', '|', '\\'] {
                assert!(!data.contains(markup), "{markup:?} left in {data}");
            }
            assert!(
                data.contains("［click me］(http://evil.example) ＜@all＞"),
                "{data}"
            );
            assert!(data.contains("status=403"));
            // Our own title stays as it is.
            assert!(text.starts_with("[Tollgate] "), "{text}");
        }
    }

    #[test]
    fn chat_formats_escape_their_markup() {
        let slack = body(
            &render(
                &target(TargetKind::Slack, "http://x/", None),
                &event(),
                "d",
                None,
                Utc::now(),
            )
            .unwrap(),
        );
        assert!(slack["text"]
            .as_str()
            .unwrap()
            .contains("acct_1 &lt;prod&gt;"));
        let mut tg = target(TargetKind::Telegram, "http://x/bot1:a/sendMessage", None);
        assert_eq!(
            render(&tg, &event(), "d", None, Utc::now()).unwrap_err(),
            RenderError::MissingChatId
        );
        tg.chat_id = Some(Secret::new("-1001234".into()));
        let b = body(&render(&tg, &event(), "d", None, Utc::now()).unwrap());
        assert_eq!(b["chat_id"], -1001234);
        assert_eq!(b["parse_mode"], "Markdown");
        assert!(b["text"].as_str().unwrap().contains("acct\\_1"));
        tg.chat_id = Some(Secret::new("@ops".into()));
        let b = body(&render(&tg, &event(), "d", None, Utc::now()).unwrap());
        assert_eq!(b["chat_id"], "@ops");
    }
}
