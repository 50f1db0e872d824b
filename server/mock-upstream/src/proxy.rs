//! Minimal outbound proxies for the relay's proxy tests: an HTTP proxy ([`ConnectProxy`]) and
//! a SOCKS5 proxy ([`Socks5Proxy`]). Both relay only to 127.0.0.1 (anything else is refused
//! without being contacted), optionally demand credentials, and count the connections they
//! relayed.
//!
//! The HTTP proxy tunnels `CONNECT` requests and also forwards absolute-form requests
//! (`GET http://127.0.0.1:PORT/... HTTP/1.1`), which is how HTTP clients send plain-`http://`
//! traffic through a proxy. A forwarded connection is pinned to its first request's target and
//! relayed as raw bytes from then on: only that first request is checked and cleaned of its
//! `Proxy-Authorization` header.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Longest request head the HTTP proxy reads before giving up.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// State both proxies share: listener address, credentials, counter, shutdown.
struct Listening {
    addr: SocketAddr,
    auth: Option<(String, String)>,
    tunnels: Arc<AtomicU64>,
    shutdown: CancellationToken,
}

impl Listening {
    /// Binds 127.0.0.1:0 and hands every accepted connection to `handle`.
    async fn start<F, Fut>(auth: Option<(String, String)>, handle: F) -> Listening
    where
        F: Fn(TcpStream, Option<Arc<(String, String)>>, Arc<AtomicU64>) -> Fut + Send + 'static,
        Fut: Future<Output = io::Result<()>> + Send + 'static,
    {
        let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await {
            Ok(listener) => listener,
            Err(e) => panic!("mock proxy could not bind 127.0.0.1:0: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(e) => panic!("mock proxy has no local address: {e}"),
        };
        let tunnels = Arc::new(AtomicU64::new(0));
        let shutdown = CancellationToken::new();
        let shared_auth = auth.clone().map(Arc::new);
        let (counter, token) = (Arc::clone(&tunnels), shutdown.clone());
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    _ = token.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                };
                let _ = stream.set_nodelay(true);
                let connection = handle(stream, shared_auth.clone(), Arc::clone(&counter));
                let token = token.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = connection => {}
                        _ = token.cancelled() => {}
                    }
                });
            }
        });
        Listening {
            addr,
            auth,
            tunnels,
            shutdown,
        }
    }

    /// `scheme://[user:pass@]127.0.0.1:PORT`, credentials percent-encoded.
    fn url(&self, scheme: &str) -> String {
        let Ok(mut url) = url::Url::parse(&format!("{scheme}://{}", self.addr)) else {
            return format!("{scheme}://{}", self.addr);
        };
        if let Some((user, pass)) = &self.auth {
            let _ = url.set_username(user);
            let _ = url.set_password(Some(pass));
        }
        url.as_str().trim_end_matches('/').to_owned()
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Hosts the proxies agree to reach; everything else is refused without a lookup.
fn is_loopback_target(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost")
}

/// A minimal HTTP/1.1 proxy (CONNECT tunnels and absolute-form forwarding).
pub struct ConnectProxy {
    inner: Listening,
}

impl ConnectProxy {
    /// Starts on 127.0.0.1:0; with `auth`, every request must carry
    /// `Proxy-Authorization: Basic` with those credentials (407 otherwise).
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start(auth: Option<(String, String)>) -> ConnectProxy {
        let inner = Listening::start(auth, |stream, auth, tunnels| async move {
            serve_http(stream, auth.as_deref(), &tunnels).await
        })
        .await;
        ConnectProxy { inner }
    }

    /// `http://[user:pass@]127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.inner.url("http")
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Connections relayed so far (CONNECT tunnels and forwarded connections).
    pub fn tunnels(&self) -> u64 {
        self.inner.tunnels.load(Ordering::Relaxed)
    }
}

async fn read_head(client: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    loop {
        if let Some(end) = memchr::memmem::find(buf, b"\r\n\r\n") {
            return Ok(end + 4);
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too long",
            ));
        }
        let mut chunk = [0u8; 4096];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn refuse(client: &mut TcpStream, status_line: &str, extra_headers: &str) -> io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status_line}\r\n{extra_headers}content-length: 0\r\nconnection: close\r\n\r\n"
    );
    client.write_all(response.as_bytes()).await?;
    client.shutdown().await
}

fn authorized(headers: &[(&str, &str)], auth: &(String, String)) -> bool {
    let expected = format!("{}:{}", auth.0, auth.1);
    headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("proxy-authorization"))
        .filter_map(|(_, value)| {
            value
                .strip_prefix("Basic ")
                .or(value.strip_prefix("basic "))
        })
        .filter_map(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
        })
        .any(|decoded| decoded == expected.as_bytes())
}

/// `host:port` of a CONNECT target or an absolute-form URL.
fn target_of(method: &str, target: &str) -> Option<(String, u16)> {
    if method.eq_ignore_ascii_case("CONNECT") {
        let authority: http::uri::Authority = target.parse().ok()?;
        return Some((authority.host().to_owned(), authority.port_u16()?));
    }
    let uri: http::Uri = target.parse().ok()?;
    if uri.scheme_str() != Some("http") {
        return None;
    }
    let authority = uri.authority()?;
    Some((
        authority.host().to_owned(),
        authority.port_u16().unwrap_or(80),
    ))
}

async fn serve_http(
    mut client: TcpStream,
    auth: Option<&(String, String)>,
    tunnels: &AtomicU64,
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let head_end = read_head(&mut client, &mut buf).await?;
    let Ok(head) = std::str::from_utf8(&buf[..head_end]) else {
        return refuse(&mut client, "400 Bad Request", "").await;
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let headers: Vec<(&str, &str)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim(), value.trim()))
        .collect();
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return refuse(&mut client, "400 Bad Request", "").await;
    };
    if let Some(auth) = auth {
        if !authorized(&headers, auth) {
            let challenge = "proxy-authenticate: Basic realm=\"tollgate-mock\"\r\n";
            return refuse(&mut client, "407 Proxy Authentication Required", challenge).await;
        }
    }
    let Some((host, port)) = target_of(method, target) else {
        return refuse(&mut client, "400 Bad Request", "").await;
    };
    if !is_loopback_target(&host) {
        return refuse(&mut client, "403 Forbidden", "").await;
    }
    let Ok(mut upstream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await else {
        return refuse(&mut client, "502 Bad Gateway", "").await;
    };
    let _ = upstream.set_nodelay(true);
    tunnels.fetch_add(1, Ordering::Relaxed);
    if method.eq_ignore_ascii_case("CONNECT") {
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await?;
    } else {
        let mut forwarded = String::with_capacity(head_end);
        forwarded.push_str(request_line);
        forwarded.push_str("\r\n");
        for (name, value) in headers.iter().filter(|(name, _)| {
            !name.eq_ignore_ascii_case("proxy-authorization")
                && !name.eq_ignore_ascii_case("proxy-connection")
        }) {
            forwarded.push_str(name);
            forwarded.push_str(": ");
            forwarded.push_str(value);
            forwarded.push_str("\r\n");
        }
        forwarded.push_str("\r\n");
        upstream.write_all(forwarded.as_bytes()).await?;
    }
    // Bytes the client sent after the head (a pipelined body or TLS hello) go first.
    upstream.write_all(&buf[head_end..]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// A minimal SOCKS5 proxy (RFC 1928 CONNECT; no-auth or RFC 1929 username/password).
pub struct Socks5Proxy {
    inner: Listening,
}

impl Socks5Proxy {
    /// Starts on 127.0.0.1:0; with `auth`, clients must use username/password with those
    /// credentials.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start(auth: Option<(String, String)>) -> Socks5Proxy {
        let inner = Listening::start(auth, |stream, auth, tunnels| async move {
            serve_socks5(stream, auth.as_deref(), &tunnels).await
        })
        .await;
        Socks5Proxy { inner }
    }

    /// `socks5://[user:pass@]127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.inner.url("socks5")
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// CONNECT tunnels opened so far.
    pub fn tunnels(&self) -> u64 {
        self.inner.tunnels.load(Ordering::Relaxed)
    }
}

const SOCKS_VERSION: u8 = 5;
const NO_AUTH: u8 = 0x00;
const USER_PASS: u8 = 0x02;
const NO_ACCEPTABLE_METHOD: u8 = 0xFF;
const REPLY_SUCCEEDED: u8 = 0x00;
const REPLY_NOT_ALLOWED: u8 = 0x02;
const REPLY_REFUSED: u8 = 0x05;
const REPLY_COMMAND_UNSUPPORTED: u8 = 0x07;
const REPLY_ADDRESS_UNSUPPORTED: u8 = 0x08;

fn socks_reply(code: u8, bound: Option<SocketAddr>) -> [u8; 10] {
    let port = bound.map_or(0, |a| a.port()).to_be_bytes();
    let ip = match bound {
        Some(SocketAddr::V4(a)) => a.ip().octets(),
        _ => [0; 4],
    };
    [
        SOCKS_VERSION,
        code,
        0,
        1,
        ip[0],
        ip[1],
        ip[2],
        ip[3],
        port[0],
        port[1],
    ]
}

async fn read_string(client: &mut TcpStream) -> io::Result<Vec<u8>> {
    let len = client.read_u8().await?;
    let mut bytes = vec![0u8; usize::from(len)];
    client.read_exact(&mut bytes).await?;
    Ok(bytes)
}

async fn serve_socks5(
    mut client: TcpStream,
    auth: Option<&(String, String)>,
    tunnels: &AtomicU64,
) -> io::Result<()> {
    let mut greeting = [0u8; 2];
    client.read_exact(&mut greeting).await?;
    if greeting[0] != SOCKS_VERSION {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not SOCKS5"));
    }
    let mut methods = vec![0u8; usize::from(greeting[1])];
    client.read_exact(&mut methods).await?;
    let wanted = if auth.is_some() { USER_PASS } else { NO_AUTH };
    if !methods.contains(&wanted) {
        client
            .write_all(&[SOCKS_VERSION, NO_ACCEPTABLE_METHOD])
            .await?;
        return Ok(());
    }
    client.write_all(&[SOCKS_VERSION, wanted]).await?;
    if let Some((user, pass)) = auth {
        let _subnegotiation_version = client.read_u8().await?;
        let given_user = read_string(&mut client).await?;
        let given_pass = read_string(&mut client).await?;
        let ok = given_user == user.as_bytes() && given_pass == pass.as_bytes();
        client.write_all(&[1, if ok { 0 } else { 1 }]).await?;
        if !ok {
            return Ok(());
        }
    }
    let mut request = [0u8; 4];
    client.read_exact(&mut request).await?;
    let [_, command, _, address_type] = request;
    let allowed = match address_type {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await?;
            Ipv4Addr::from(ip) == Ipv4Addr::LOCALHOST
        }
        3 => {
            let domain = read_string(&mut client).await?;
            std::str::from_utf8(&domain).is_ok_and(is_loopback_target)
        }
        4 => {
            let mut ip = [0u8; 16];
            client.read_exact(&mut ip).await?;
            false
        }
        _ => {
            client
                .write_all(&socks_reply(REPLY_ADDRESS_UNSUPPORTED, None))
                .await?;
            return Ok(());
        }
    };
    let port = client.read_u16().await?;
    if command != 1 {
        client
            .write_all(&socks_reply(REPLY_COMMAND_UNSUPPORTED, None))
            .await?;
        return Ok(());
    }
    if !allowed {
        client
            .write_all(&socks_reply(REPLY_NOT_ALLOWED, None))
            .await?;
        return Ok(());
    }
    let Ok(mut upstream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await else {
        client.write_all(&socks_reply(REPLY_REFUSED, None)).await?;
        return Ok(());
    };
    let _ = upstream.set_nodelay(true);
    tunnels.fetch_add(1, Ordering::Relaxed);
    let bound = upstream.local_addr().ok();
    client
        .write_all(&socks_reply(REPLY_SUCCEEDED, bound))
        .await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}
