//! The JSON REST API under `/admin/...`: a thin HTTP skin over the admin service, one file per
//! area (`auth`, `accounts`, `keys`, `reports`, `webhooks`, `import`, `sales`), each registering its routes into
//! one [`RouteTable`] so the auth sweep test can call every route. Handlers see only the admin
//! service; bodies and query strings are read by the strict extractors of `extract`.

mod accounts;
mod auth;
pub mod extract;
mod import;
mod keys;
mod reports;
pub mod sales;
mod users;
mod webhooks;

use std::sync::Arc;

use app::error::AdminError;
use axum::extract::State;
use axum::http::Method;
use axum::routing::MethodRouter;
use axum::Router;

use super::error::ApiError;
use super::AdminService;

pub type ApiResult<T> = Result<T, ApiError>;

/// The state every REST handler extracts: the admin service, nothing else.
pub type Service = State<Arc<AdminService>>;

/// A router that remembers what it registered, so the auth sweep test can call every route.
#[derive(Default)]
pub struct RouteTable {
    router: Router<Arc<AdminService>>,
    routes: Vec<(Method, &'static str)>,
}

impl RouteTable {
    pub fn route(
        mut self,
        path: &'static str,
        methods: &[Method],
        handler: MethodRouter<Arc<AdminService>>,
    ) -> Self {
        self.router = self.router.route(path, handler);
        self.routes
            .extend(methods.iter().map(|m| (m.clone(), path)));
        self
    }

    /// The router, still waiting for the admin service, and every method and path in it.
    pub fn into_parts(self) -> (Router<Arc<AdminService>>, Vec<(Method, &'static str)>) {
        (self.router, self.routes)
    }
}

/// Every route of the REST API.
pub fn routes() -> RouteTable {
    let table = RouteTable::default();
    let table = auth::register(table);
    let table = accounts::register(table);
    let table = keys::register(table);
    let table = webhooks::register(table);
    let table = import::register(table);
    let table = sales::register(table);
    let table = users::register(table);
    reports::register(table)
}

/// 404 in the admin API's shape, for unknown `/admin/...` paths.
pub async fn not_found() -> ApiError {
    ApiError(AdminError::not_found("route"))
}
