//! The classify step of failover: which upstream answers may be the account's fault (their
//! body is read before deciding) and how such an answer bears on the account. Whose fault a
//! 403 is, is read from its body by [`crate::relay::platforms::blame`].

use axum::http::StatusCode;

use crate::relay::platforms::Adapter;
use crate::scheduler::health::Outcome;
use crate::storage::now_ms;

/// Whether an upstream answer's status may be the account's fault, so its body must be read
/// before deciding (failover, health) — everything else streams through untouched.
pub fn needs_verdict(adapter: &dyn Adapter, status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status.as_u16() == 529
        || status.is_server_error()
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN
        || (status.is_client_error() && adapter.inspects_client_errors())
}

/// How an error answer bears on the account: `Some` fails over and feeds its health, `None`
/// passes the answer to the client as the request's own error.
///
/// - token counting (`billable == false`) costs the upstream nothing worth protecting: its
///   429/529/503 go to the client (the key's own counting limit applies) and never cool the
///   account, so they cannot be used to throttle the pool;
/// - 5xx, 529 and 429 are the account's (load, limits, outages);
/// - 401 is about the credential; a 403 only when its body says so ([`crate::relay::platforms::blame::forbidden_by_request`]);
/// - other 4xx are the request's, unless the adapter recognises an account fault in the body.
pub fn verdict(
    adapter: &dyn Adapter,
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
    billable: bool,
) -> Option<Outcome> {
    let code = status.as_u16();
    if !billable && matches!(code, 429 | 503 | 529) {
        return None;
    }
    if status.is_server_error() || code == 429 || code == 529 || code == 401 {
        return Some(adapter.classify(status, headers, body, now_ms()));
    }
    if status == StatusCode::FORBIDDEN {
        return (!adapter.request_fault(status, body))
            .then(|| adapter.classify(status, headers, body, now_ms()));
    }
    adapter.account_fault(status, body)
}
