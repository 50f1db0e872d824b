//! Building the application: state, the router (relay + dashboard + admin API), and serving
//! with graceful shutdown. `main.rs` and the tests both start Tollgate through [`Application`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use app::port::SharedAdmin;
use axum::extract::{FromRef, MatchedPath, RawQuery, Request};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::admin::AdminService;
use crate::auth::client_addr::ProxyTrust;
use crate::auth::AuthGuards;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::crypto::Cipher;
use crate::relay::Relay;
use crate::storage::sessions::DbSessionStore;
use crate::storage::Store;

/// Shared state of every handler, server function and SSR render.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Store,
    pub admin: Arc<AdminService>,
    pub config: Arc<Settings>,
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
    pub webhooks: crate::webhooks::Webhooks,
    pub relay: Arc<Relay>,
}

/// The longest shutdown waits for background work after the server has stopped.
const DRAIN_LIMIT: Duration = Duration::from_secs(20);

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    admin_routes: Vec<(Method, &'static str)>,
    /// The first admin's generated password, to be printed once by the caller.
    pub generated_admin_password: Option<String>,
}

impl Application {
    /// Connects to the database (migrating it), creates the first admin if needed, and binds.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let url = settings.database_url();
        let store = if settings.serve.cluster.enabled {
            // Shared key limits: this instance's connections carry its id (see limits::cluster).
            let instance = uuid::Uuid::new_v4().simple().to_string();
            Store::connect_instance(&url, &instance).await?
        } else {
            Store::connect(&url).await?
        };
        Self::build_with_store(settings, store).await
    }

    pub async fn build_with_store(settings: Settings, store: Store) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, store, crate::clock::system()).await
    }

    /// As [`Application::build_with_store`], with the clock that sessions, login throttling,
    /// failure limits and the scheduler's cooldowns and sticky mappings read (tests move a
    /// manual one).
    pub async fn build_with_clock(
        settings: Settings,
        store: Store,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let cipher = Cipher::load(
            settings.common.encryption_key.as_ref(),
            &settings.common.data_dir,
        )
        .context("loading the encryption key")?;
        store
            .migrate()
            .await
            .context("database migrations failed; refusing to start")?;
        store
            .upgrade_ciphertexts(&cipher)
            .await
            .context("re-encrypting stored credentials")?;
        let generated_admin_password = crate::admin::auth::ensure_first_admin(
            &store,
            &settings.serve.admin_username,
            settings
                .serve
                .admin_password
                .as_ref()
                .map(|p| p.expose().as_str()),
        )
        .await
        .context("creating the first administrator")?;

        let listener = TcpListener::bind(settings.serve.listen)
            .await
            .with_context(|| format!("binding {}", settings.serve.listen))?;
        let local = listener.local_addr()?;

        let config = Arc::new(settings);
        let leptos_options = LeptosOptions::builder()
            .output_name("tollgate")
            .site_root(config.serve.site_root.clone())
            .site_pkg_dir("pkg")
            .site_addr(local)
            .build();
        let tasks = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let webhooks = crate::webhooks::Webhooks::start(
            &config.serve.webhooks,
            store.clone(),
            cipher.clone(),
            &tasks,
            shutdown.clone(),
            clock.clone(),
        )
        .context("starting webhooks")?;
        let relay = Relay::start(
            config.clone(),
            store.clone(),
            cipher.clone(),
            webhooks.clone(),
            &tasks,
            shutdown.clone(),
            clock.clone(),
        )
        .await
        .context("starting the relay")?;
        let proxies = ProxyTrust::from_settings(
            config.serve.trust_proxy_headers,
            config.serve.trusted_proxies.as_deref(),
        )
        .map_err(|e| anyhow::anyhow!("TRUSTED_PROXIES: {e}"))?;
        let guards = Arc::new(AuthGuards::new(clock, proxies));
        let admin = Arc::new(
            AdminService::new(
                store.clone(),
                config.clone(),
                cipher,
                webhooks.clone(),
                relay.clone(),
            )
            .with_auth_guards(guards),
        );
        let state = AppState {
            leptos_options,
            store,
            admin,
            config,
            tasks,
            shutdown,
            webhooks,
            relay,
        };
        let (router, admin_routes) = build_router(state.clone());
        Ok(Application {
            listener,
            router,
            state,
            admin_routes,
            generated_admin_password,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Every method and path of the admin REST API, for the auth sweep.
    pub fn admin_routes(&self) -> &[(Method, &'static str)] {
        &self.admin_routes
    }

    /// Serves until `shutdown` fires, then lets in-flight requests finish within the grace
    /// period, and waits for background work to drain.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Application {
            listener,
            router,
            state,
            ..
        } = self;
        spawn_housekeeping(&state);
        let grace = Duration::from_secs(state.config.serve.shutdown_grace_secs);
        let stop = shutdown.clone();
        let header_timeout =
            Duration::from_secs(state.config.serve.guard.header_timeout_secs.max(1));
        let server = crate::listener::serve(listener, router, header_timeout, stop);
        let mut server = tokio::spawn(server);
        tokio::select! {
            res = &mut server => res?,
            _ = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
                // Grace is over: cut what is still open; each cut stream bills what it saw.
                tracing::warn!(grace_secs = grace.as_secs(), "grace period over; cutting open requests and streams");
                state.relay.cut_open_streams();
                match tokio::time::timeout(Duration::from_secs(5), &mut server).await {
                    Ok(res) => res?,
                    Err(_) => {
                        tracing::error!("connections still open after the cut; closing them");
                        server.abort();
                    }
                }
            }
        }
        // Background work (usage writer, webhook deliveries, recorders) drains now; bounded, so
        // a stuck delivery or database can never keep the process from exiting.
        state.shutdown.cancel();
        state.tasks.close();
        if tokio::time::timeout(DRAIN_LIMIT, state.tasks.wait())
            .await
            .is_err()
        {
            tracing::error!(
                pending_usage_events = state.relay.usage_backlog().pending,
                "background work did not finish within {}s; exiting anyway",
                DRAIN_LIMIT.as_secs()
            );
        }
        if tokio::time::timeout(Duration::from_secs(5), state.store.close())
            .await
            .is_err()
        {
            tracing::error!("database connections did not close in time");
        }
        tracing::info!("shut down");
        Ok(())
    }
}

fn spawn_housekeeping(state: &AppState) {
    let store = state.store.clone();
    let stop = state.shutdown.clone();
    state.tasks.spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(600));
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = every.tick() => {
                    if let Err(e) = store.purge_expired_auth().await {
                        tracing::warn!(error = %e, "purging expired sessions failed");
                    }
                }
            }
        }
    });
}

/// The whole HTTP surface. The dashboard and admin API sit behind the session and
/// deny-by-default auth layers.
pub fn build_router(state: AppState) -> (Router, Vec<(Method, &'static str)>) {
    let session_ttl = Duration::from_secs(state.config.serve.session_ttl_hours * 3600);
    let session_store = DbSessionStore::new(
        state.store.clone(),
        state.admin.auth().clock.clone(),
        session_ttl,
    );
    let session_layer = SessionManagerLayer::new(session_store)
        .with_name("tollgate_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(
            state
                .config
                .serve
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
        )
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(
            state.config.serve.session_ttl_hours as i64,
        )));

    let (admin_api, admin_routes) = crate::admin::rest::routes().into_parts();
    let leptos_routes = generate_route_list(app::App);
    let port: SharedAdmin = state.admin.clone();
    // What every rendered page gets: the admin service, and its CSP carrying the page's nonce.
    let page_context = move || {
        provide_context(port.clone());
        crate::auth::headers::page_policy();
    };
    let relay = crate::relay::routes(state.relay.clone());
    let dashboard = Router::new()
        .route("/health", get(crate::health::health))
        .route("/ready", get(crate::health::ready))
        .route("/lang", get(switch_language))
        .merge(admin_api.with_state(state.admin.clone()))
        .route(
            "/redeem",
            axum::routing::post(crate::admin::rest::sales::redeem_public)
                .with_state(state.admin.clone()),
        )
        .route(
            "/admin/{*rest}",
            axum::routing::any(crate::admin::rest::not_found),
        )
        .leptos_routes_with_context(&state, leptos_routes, page_context.clone(), {
            let options = state.leptos_options.clone();
            move || app::shell(options.clone())
        })
        // Error pages (404) are rendered like the others, with the page's CSP nonce.
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(page_context, app::shell))
        .layer(axum::middleware::from_fn_with_state(
            crate::auth::layer::AuthState {
                admin: state.admin.clone(),
                session_ttl,
            },
            crate::auth::require_admin,
        ))
        .layer(session_layer)
        .with_state(state.clone());

    let router = Router::new().merge(relay).merge(dashboard).layer(
        TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // The matched route, never the raw URI: query strings can carry API keys. Borrowed:
            // when the span is off (LOG_LEVEL above info) a request costs no allocation here.
            let path = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", |p| p.as_str());
            tracing::info_span!("request", method = %req.method(), path)
        }),
    );
    (router, admin_routes)
}

/// Sets the language cookie and goes back to the page the switch was clicked on. The query is
/// read by hand, never by an extractor: whatever a browser sends (no `set`, an unknown
/// language, a broken query) ends on that page, not on a bare extractor error; only a known
/// `set` (the first one) changes the cookie.
async fn switch_language(RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let locale = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "set")
        .and_then(|(_, tag)| app::i18n::Locale::from_tag(&tag));
    // Only a same-site path (and its query) from the referer, never an absolute URL (no open
    // redirect).
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .filter(|u| u.path().starts_with('/') && !u.path().starts_with("//") && u.path() != "/lang")
        .map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        })
        .and_then(|back| header::HeaderValue::from_str(&back).ok())
        .unwrap_or(header::HeaderValue::from_static("/"));
    let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response();
    if let Some(locale) = locale {
        let cookie = format!(
            "{}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            app::i18n::LANG_COOKIE,
            locale.tag()
        );
        if let Ok(v) = header::HeaderValue::from_str(&cookie) {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    res
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
