//! Sending one event to one target: the HTTP attempt, what counts as success for each chat tool,
//! retries with exponential backoff, and one delivery-log row per attempt. Error texts are built
//! here from what went wrong, never from the transport's own messages (which quote the URL), and
//! anything echoed from a response is scrubbed of the target's URL and secrets.

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::Value;

use super::config::{WebhookOpts, MAX_BACKOFF};
use super::event::{truncate_chars, WebhookEvent};
use super::formats::render;
use super::target::{scrub, Target, TargetKind};
use crate::clock::SharedClock;
use crate::secret::Secret;
use crate::storage::webhooks::NewWebhookDelivery;
use crate::storage::{now_ms, Store};

/// How much of a response is read to find a chat tool's error code.
const MAX_RESPONSE_BYTES: usize = 16 * 1024;
const ERROR_SNIPPET_CHARS: usize = 200;

/// The outcome of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub http_status: Option<u16>,
    pub ok: bool,
    pub error: Option<String>,
    /// Whether another attempt may succeed, and how long the receiver asked us to wait.
    pub retry: Retry,
    pub latency: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    No,
    Yes { after: Option<Duration> },
}

/// An HTTP client, the delivery policy and the clock the backoff waits on; cheap to share.
#[derive(Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    opts: WebhookOpts,
    clock: SharedClock,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Deliverer {
    pub fn new(opts: &WebhookOpts) -> anyhow::Result<Self> {
        Self::with_clock(opts, crate::clock::system())
    }

    /// As [`Deliverer::new`], waiting out backoffs on `clock` (tests hand in a manual one).
    pub fn with_clock(opts: &WebhookOpts, clock: SharedClock) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("Tollgate-Webhook/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(opts.timeout())
            .timeout(opts.timeout())
            // A redirect could carry the body (and signature) somewhere the admin never chose.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Deliverer {
            client,
            opts: opts.clone(),
            clock,
        })
    }

    pub fn opts(&self) -> &WebhookOpts {
        &self.opts
    }

    fn fallback_secret(&self) -> Option<&Secret<String>> {
        self.opts.webhook_secret.as_ref()
    }

    /// One attempt, nothing logged.
    pub async fn attempt(
        &self,
        target: &Target,
        event: &WebhookEvent,
        delivery_id: &str,
    ) -> Attempt {
        let started = Instant::now();
        let fallback = self.fallback_secret().map(|s| s.expose().as_str());
        let outbound = match render(target, event, delivery_id, fallback, Utc::now()) {
            Ok(o) => o,
            Err(e) => {
                return Attempt {
                    http_status: None,
                    ok: false,
                    error: Some(e.to_string()),
                    retry: Retry::No,
                    latency: started.elapsed(),
                }
            }
        };
        let mut request = self.client.post(outbound.url).body(outbound.body);
        for (name, value) in outbound.headers {
            request = request.header(name, value);
        }
        let result = match request.send().await {
            Ok(response) => self.judge(target, response).await,
            Err(e) => (
                None,
                Err(self.transport_error(&e)),
                Retry::Yes { after: None },
            ),
        };
        let (http_status, outcome, retry) = result;
        Attempt {
            http_status,
            ok: outcome.is_ok(),
            error: outcome
                .err()
                .map(|e| truncate_chars(&scrub(&e, target), 500)),
            retry,
            latency: started.elapsed(),
        }
    }

    /// Tries up to `WEBHOOK_MAX_ATTEMPTS` times, waiting 1×, 2×, 4×… the backoff between
    /// attempts (longer if a 429 says so), and logs every attempt. Returns the last one.
    pub async fn deliver(&self, store: &Store, target: &Target, event: &WebhookEvent) -> Attempt {
        let delivery_id = uuid::Uuid::new_v4().to_string();
        let max = self.opts.webhook_max_attempts.max(1);
        let mut attempt_no = 1;
        loop {
            let attempt = self.attempt(target, event, &delivery_id).await;
            record(store, target, event, attempt_no, &attempt).await;
            let retry_after = match attempt.retry {
                Retry::Yes { after } if !attempt.ok && attempt_no < max => after,
                _ => return attempt,
            };
            let wait = self
                .opts
                .backoff(attempt_no)
                .max(retry_after.unwrap_or_default())
                .min(MAX_BACKOFF);
            tracing::debug!(target = %target.hint, event = %event.event, attempt = attempt_no, wait_ms = wait.as_millis() as u64, "webhook attempt failed; retrying");
            self.clock.sleep(wait).await;
            attempt_no += 1;
        }
    }

    async fn judge(
        &self,
        target: &Target,
        response: reqwest::Response,
    ) -> (Option<u16>, Result<(), String>, Retry) {
        let status = response.status();
        let code = Some(status.as_u16());
        let retry_after = retry_after(&response);
        let body = read_limited(response).await;
        if status.is_success() {
            return match vendor_error(target.kind, &body) {
                None => (code, Ok(()), Retry::No),
                Some((message, retryable)) => {
                    let retry = if retryable {
                        Retry::Yes { after: None }
                    } else {
                        Retry::No
                    };
                    (code, Err(message), retry)
                }
            };
        }
        let snippet = String::from_utf8_lossy(&body);
        let snippet = truncate_chars(snippet.trim(), ERROR_SNIPPET_CHARS);
        let message = if snippet.is_empty() {
            format!("HTTP {}", status.as_u16())
        } else {
            format!("HTTP {}: {snippet}", status.as_u16())
        };
        let retry = if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Retry::Yes { after: retry_after }
        } else {
            Retry::No
        };
        (code, Err(message), retry)
    }

    fn transport_error(&self, e: &reqwest::Error) -> String {
        if e.is_timeout() {
            return format!("timed out after {} ms", self.opts.timeout().as_millis());
        }
        let io_kind = io_error_kind(e);
        let what = if e.is_connect() {
            "connection failed"
        } else if e.is_body() || e.is_decode() {
            "reading the response failed"
        } else {
            "request failed"
        };
        match io_kind {
            Some(kind) => format!("{what}: {kind}"),
            None => what.to_owned(),
        }
    }
}

/// Writes one attempt to the delivery log; a failure to write is logged, not propagated.
pub async fn record(
    store: &Store,
    target: &Target,
    event: &WebhookEvent,
    attempt_no: u32,
    attempt: &Attempt,
) {
    let row = NewWebhookDelivery {
        target_id: target.id.as_deref(),
        target_hint: &target.hint,
        event: event.event.as_str(),
        attempt: i64::from(attempt_no),
        http_status: attempt.http_status.map(i64::from),
        ok: attempt.ok,
        error: attempt.error.as_deref(),
        created_at: now_ms(),
    };
    if let Err(e) = store.insert_webhook_delivery(&row).await {
        tracing::warn!(error = %e, target = %target.hint, "recording a webhook delivery failed");
    }
    if !attempt.ok {
        tracing::info!(target = %target.hint, event = %event.event, attempt = attempt_no, status = ?attempt.http_status, error = ?attempt.error, "webhook delivery attempt failed");
    }
}

/// The first I/O error kind in the chain (`connection refused`, ...), which never holds the URL.
fn io_error_kind(e: &reqwest::Error) -> Option<String> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io.kind().to_string());
        }
        source = s.source();
    }
    None
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

async fn read_limited(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_RESPONSE_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    body
}

/// WeCom, DingTalk and Feishu answer 200 with an error code in the body. Returns the error and
/// whether it is a rate limit worth retrying.
fn vendor_error(kind: TargetKind, body: &[u8]) -> Option<(String, bool)> {
    let (code_field, message_field, rate_limited): (&str, &str, &[i64]) = match kind {
        // 45009: API frequency limit.
        TargetKind::Wecom => ("errcode", "errmsg", &[45009]),
        // 130101: sending too fast.
        TargetKind::Dingtalk => ("errcode", "errmsg", &[130101]),
        // 11232: frequency limited.
        TargetKind::Feishu => ("code", "msg", &[11232]),
        _ => return None,
    };
    let json: Value = serde_json::from_slice(body).ok()?;
    let code = json.get(code_field)?.as_i64()?;
    if code == 0 {
        return None;
    }
    let message = json
        .get(message_field)
        .and_then(Value::as_str)
        .map(|m| truncate_chars(m, ERROR_SNIPPET_CHARS))
        .unwrap_or_default();
    Some((
        format!("{kind} error {code}: {message}"),
        rate_limited.contains(&code),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_codes() {
        assert_eq!(
            vendor_error(TargetKind::Wecom, br#"{"errcode":0,"errmsg":"ok"}"#),
            None
        );
        assert_eq!(
            vendor_error(
                TargetKind::Wecom,
                br#"{"errcode":93000,"errmsg":"invalid webhook url"}"#
            ),
            Some(("wecom error 93000: invalid webhook url".into(), false))
        );
        assert_eq!(
            vendor_error(
                TargetKind::Dingtalk,
                br#"{"errcode":130101,"errmsg":"send too fast"}"#
            )
            .map(|e| e.1),
            Some(true)
        );
        assert_eq!(
            vendor_error(TargetKind::Feishu, br#"{"code":0,"msg":"success"}"#),
            None
        );
        assert!(vendor_error(
            TargetKind::Feishu,
            br#"{"code":19021,"msg":"sign match fail"}"#
        )
        .is_some());
        assert_eq!(vendor_error(TargetKind::Slack, b"ok"), None);
        assert_eq!(vendor_error(TargetKind::Wecom, b"not json"), None);
    }
}
