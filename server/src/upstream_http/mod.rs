//! HTTP clients to the upstreams: one pooled client per distinct proxy setting, shared by every
//! account that uses it (the scheduler hands them out), and the rules for proxy URLs.

mod call;
mod connect;
mod direct;
mod error;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper_util::client::legacy::connect::HttpConnector;
use parking_lot::Mutex;

pub use call::{BodyStream, UpstreamAnswer, UpstreamClient, UpstreamError, UpstreamRequest};

use crate::config::RelayOpts;

/// Idle connections kept per upstream host, and for how long.
const MAX_IDLE_PER_HOST: usize = 512;
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const KEEPALIVE: Duration = Duration::from_secs(15);

pub struct HttpClients {
    connect_timeout: Duration,
    clients: Mutex<HashMap<Option<String>, UpstreamClient>>,
}

impl HttpClients {
    pub fn new(opts: &RelayOpts) -> Self {
        HttpClients {
            connect_timeout: Duration::from_millis(opts.connect_timeout_ms),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client for a proxy URL (`http://`, `https://`, `socks5://`, with credentials), or
    /// for direct connections.
    pub fn get(&self, proxy: Option<&str>) -> anyhow::Result<UpstreamClient> {
        let key = proxy.map(str::to_owned);
        if let Some(c) = self.clients.lock().get(&key) {
            return Ok(c.clone());
        }
        let client = match proxy {
            Some(url) => UpstreamClient::Proxied(self.proxied(url)?),
            None => UpstreamClient::Direct(Arc::new(direct(self.connect_timeout)?)),
        };
        self.clients.lock().insert(key, client.clone());
        Ok(client)
    }

    fn proxied(&self, proxy: &str) -> anyhow::Result<reqwest::Client> {
        reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
            // The relay forwards redirects' answers as they are; it never follows them with credentials.
            .redirect(reqwest::redirect::Policy::none())
            .proxy(reqwest::Proxy::all(proxy).context("invalid proxy URL")?)
            .build()
            .context("building the HTTP client")
    }

    /// Forgets clients no account uses any more.
    pub fn retain(&self, in_use: &[Option<String>]) {
        self.clients.lock().retain(|k, _| in_use.contains(k));
    }
}

/// The client for direct connections: HTTP/1.1 or (negotiated by ALPN over TLS) HTTP/2, to
/// `http://` and `https://` upstreams, verified against the Mozilla roots (as reqwest's
/// `rustls-tls` does). Redirects are answers like any other; no proxy is read from the
/// environment.
fn direct(connect_timeout: Duration) -> anyhow::Result<call::DirectClient> {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS settings")?
    .with_root_certificates(rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    })
    .with_no_client_auth();
    Ok(direct_with(tls, connect_timeout))
}

fn direct_with(tls: rustls::ClientConfig, connect_timeout: Duration) -> call::DirectClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    // reqwest's keep-alive probes: a pooled connection a NAT or balancer dropped while idle is
    // noticed by the kernel instead of swallowing the next request.
    http.set_keepalive(Some(KEEPALIVE));
    http.set_keepalive_interval(Some(KEEPALIVE));
    http.set_keepalive_retries(Some(3));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    call::DirectClient::new(connect::TimedConnector::new(https, connect_timeout))
}

/// Checks a proxy URL's scheme and shape, for validation messages.
pub fn validate_proxy(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    match parsed.scheme() {
        "http" | "https" | "socks5" | "socks5h" => {}
        other => {
            return Err(format!(
                "unsupported proxy scheme {other:?}; use http, https or socks5"
            ))
        }
    }
    if parsed.host_str().is_none() {
        return Err("the proxy URL has no host".into());
    }
    reqwest::Proxy::all(url).map_err(|e| format!("invalid proxy: {e}"))?;
    Ok(())
}

/// The proxy URL with its password replaced, for display.
pub fn mask_proxy(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("****"));
            }
            u.to_string().trim_end_matches('/').to_owned()
        }
        Err(_) => "****".into(),
    }
}

#[cfg(test)]
mod tests;
