//! One request to an upstream and its answer, the same for both kinds of client: accounts that
//! connect directly use hyper's pooled client over rustls (no redirect, cookie or proxy layers,
//! and the URL is not parsed again); accounts behind a proxy (http, https, socks5) use reqwest,
//! which speaks to proxies.

use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use http::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION};
use http::{Method, StatusCode, Uri};

pub use super::error::{BodyStream, UpstreamError};

pub(super) use super::direct::DirectClient;

/// A pooled client to the upstreams, cheap to clone.
#[derive(Clone)]
pub enum UpstreamClient {
    /// Direct connections (no proxy); shared, as a request takes a clone.
    Direct(std::sync::Arc<DirectClient>),
    /// Connections through the account's proxy.
    Proxied(reqwest::Client),
}

impl UpstreamClient {
    /// A POST to `url`.
    pub fn post(&self, url: url::Url) -> UpstreamRequest {
        self.post_to(Ok(url))
    }

    /// A POST to a URL still to be parsed; a URL that does not parse fails when sent.
    pub fn post_str(&self, url: &str) -> UpstreamRequest {
        self.post_to(
            url::Url::parse(url)
                .map_err(|e| UpstreamError::msg(format!("invalid upstream URL: {e}"))),
        )
    }

    fn post_to(&self, url: Result<url::Url, UpstreamError>) -> UpstreamRequest {
        let mut request = UpstreamRequest {
            client: self.clone(),
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        };
        // Credentials in the URL (`https://user:pass@host/`) go as Basic authentication, as
        // reqwest sends them, never in the request line.
        if let Some(basic) = request.url.as_mut().ok().and_then(take_user_info) {
            request.headers.append(AUTHORIZATION, basic);
        }
        request
    }
}

/// Removes the user name and password from `url`, as an `Authorization: Basic` value.
fn take_user_info(url: &mut url::Url) -> Option<HeaderValue> {
    use base64::Engine;
    if !url.has_authority() || (url.username().is_empty() && url.password().is_none()) {
        return None;
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let user = decode(url.username());
    let password = url.password().map(decode).unwrap_or_default();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut value = HeaderValue::try_from(format!("Basic {encoded}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// A request being built; like reqwest's builder, a header that does not convert makes
/// [`UpstreamRequest::send`] fail instead of panicking.
pub struct UpstreamRequest {
    client: UpstreamClient,
    url: Result<url::Url, UpstreamError>,
    headers: HeaderMap,
    body: Bytes,
}

impl UpstreamRequest {
    /// Adds a header (appended: a name may repeat).
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        if self.url.is_err() {
            return self;
        }
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.headers.append(name, value);
            }
            _ => self.url = Err(UpstreamError::msg("invalid header name or value")),
        }
        self
    }

    /// `Authorization: Bearer <token>`, marked sensitive (never printed).
    pub fn bearer_auth(mut self, token: &str) -> Self {
        match HeaderValue::try_from(format!("Bearer {token}")) {
            Ok(mut value) => {
                value.set_sensitive(true);
                self.headers.append(AUTHORIZATION, value);
            }
            Err(_) => self.url = Err(UpstreamError::msg("invalid bearer token")),
        }
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The headers set so far (tests).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The URL the request goes to (tests); `None` when it did not parse.
    pub fn url(&self) -> Option<&url::Url> {
        self.url.as_ref().ok()
    }

    /// Sends the request and waits for the answer's status and headers.
    pub async fn send(self) -> Result<UpstreamAnswer, UpstreamError> {
        let url = self.url?;
        match self.client {
            UpstreamClient::Direct(client) => {
                let uri = Uri::try_from(url.as_str())
                    .map_err(|e| UpstreamError::msg(format!("invalid upstream URL: {e}")))?;
                let mut request = http::Request::new(self.body);
                *request.method_mut() = Method::POST;
                *request.uri_mut() = uri;
                let mut headers = self.headers;
                // What reqwest sends when the caller names no media type.
                if !headers.contains_key(ACCEPT) {
                    headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
                }
                *request.headers_mut() = headers;
                let (parts, body) = client.request(request).await?.into_parts();
                Ok(UpstreamAnswer {
                    status: parts.status,
                    headers: parts.headers,
                    body,
                })
            }
            UpstreamClient::Proxied(client) => {
                let mut answer = client
                    .post(url)
                    .headers(self.headers)
                    .body(self.body)
                    .send()
                    .await
                    .map_err(UpstreamError::reqwest)?;
                Ok(UpstreamAnswer {
                    status: answer.status(),
                    headers: std::mem::take(answer.headers_mut()),
                    body: answer
                        .bytes_stream()
                        .map_err(UpstreamError::reqwest)
                        .boxed(),
                })
            }
        }
    }
}

/// An upstream's answer: status and headers, and the body still to be read.
pub struct UpstreamAnswer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: BodyStream,
}

impl UpstreamAnswer {
    /// Reads the body up to `max` bytes and for at most `wait` (an error answer's body, whose
    /// size and pace the upstream chooses); what arrived by then is returned.
    pub async fn read_bounded(self, max: usize, wait: Duration) -> Bytes {
        let mut buf = Vec::new();
        let mut body = self.body;
        let read = async {
            while let Some(Ok(chunk)) = body.next().await {
                let room = max.saturating_sub(buf.len());
                buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if buf.len() >= max {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(wait, read).await;
        Bytes::from(buf)
    }
}
