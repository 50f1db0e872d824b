//! HTTP clients to the upstreams: one pooled client per distinct proxy setting, shared by every
//! account that uses it (the scheduler hands them out), and the rules for proxy URLs.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use parking_lot::Mutex;

use crate::config::RelayOpts;

pub struct HttpClients {
    connect_timeout: Duration,
    clients: Mutex<HashMap<Option<String>, reqwest::Client>>,
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
    pub fn get(&self, proxy: Option<&str>) -> anyhow::Result<reqwest::Client> {
        let key = proxy.map(str::to_owned);
        if let Some(c) = self.clients.lock().get(&key) {
            return Ok(c.clone());
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(512)
            // The relay forwards redirects' answers as they are; it never follows them with credentials.
            .redirect(reqwest::redirect::Policy::none());
        builder = match proxy {
            Some(url) => builder.proxy(reqwest::Proxy::all(url).context("invalid proxy URL")?),
            None => builder.no_proxy(),
        };
        let client = builder.build().context("building the HTTP client")?;
        self.clients.lock().insert(key, client.clone());
        Ok(client)
    }

    /// Forgets clients no account uses any more.
    pub fn retain(&self, in_use: &[Option<String>]) {
        self.clients.lock().retain(|k, _| in_use.contains(k));
    }
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
mod tests {
    use super::*;

    #[test]
    fn proxies() {
        assert!(validate_proxy("socks5://u:p@127.0.0.1:1080").is_ok());
        assert!(validate_proxy("http://127.0.0.1:8080").is_ok());
        assert!(validate_proxy("ftp://x").is_err());
        assert!(validate_proxy("nonsense").is_err());
        assert_eq!(
            mask_proxy("socks5://user:secret@10.0.0.1:1080"),
            "socks5://user:****@10.0.0.1:1080"
        );
        assert_eq!(mask_proxy("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
