//! Building the application: state, the router (relay + dashboard + admin API), and serving
//! with graceful shutdown. `main.rs` and the tests both start Tollgate through [`Application`];
//! the HTTP surface itself is [`router`].

mod router;

pub use router::build_router;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::FromRef;
use axum::http::Method;
use axum::Router;
use leptos::config::LeptosOptions;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin::AdminService;
use crate::auth::client_addr::ProxyTrust;
use crate::auth::AuthGuards;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::crypto::Cipher;
use crate::relay::Relay;
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
        let grace = Duration::from_secs(state.config.serve.shutdown_grace_secs);
        let stop = shutdown.clone();
        let header_timeout =
            Duration::from_secs(state.config.serve.guard.header_timeout_secs.max(1));
        let server =
            crate::listener::serve(listener, router, state.relay.clone(), header_timeout, stop);
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
