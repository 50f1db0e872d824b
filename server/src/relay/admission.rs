//! Admission: every check a request passes before an upstream is chosen, in order — a model
//! name the usage store can hold, the key's platforms, models and server tools, its per-model
//! daily cost, the token-counting limit, the strict output ceiling, and last the key's quota,
//! daily limit, rate and concurrency (limit checks 2–5; check 1, the key's own state before
//! the body is read, is in [`super::body`]). From the first check on, the request leaves a
//! usage event whatever happens ([`Unanswered`]).

use std::sync::Arc;
use std::time::Instant;

use axum::http::StatusCode;
use axum::response::Response;

use super::accounting::unanswered::Unanswered;
use super::error::{ErrorKind, RelayError};
use super::platforms::{Adapter, Call};
use super::request_cost;
use super::Relay;
use crate::limits::{KeyLimits, Refusal};
use crate::pricing::PriceLookup;
use crate::storage::now_ms;

/// Limits (2)–(5) and the relay itself. `price` is the price of `call.model`, looked up once
/// by the handler (which reads its default output ceiling).
pub async fn relay_call(
    relay: &Arc<Relay>,
    adapter: &dyn Adapter,
    key: Arc<KeyLimits>,
    mut call: Call,
    price: PriceLookup,
    started: Instant,
) -> Response {
    let protocol = adapter.protocol();
    let platform = adapter.platform();
    // A name the usage store could not hold is refused before anything records it.
    if let Err(e) = super::guards::check_model_name(&call.model) {
        return e.into_response(protocol);
    }
    // From here on the request leaves a usage event whatever happens, even if the client goes
    // away while it waits in the queue or for an upstream (the future is then dropped).
    let mut record = Unanswered::new(relay, &key, platform, &call, started);
    let refused = if !key.platform_allowed(platform) {
        Some(RelayError::from(Refusal::PlatformNotAllowed { platform }))
    } else if !key.model_allowed(&call.model) {
        Some(RelayError::from(Refusal::ModelNotAllowed {
            model: call.model.clone(),
        }))
    } else if call.billable && call.shape.tools.any && !key.allow_server_tools {
        Some(RelayError::new(
            StatusCode::FORBIDDEN,
            ErrorKind::Permission,
            "this API key may not use server-side tools (web search, code execution, grounding)",
        ))
    } else if call.billable {
        relay
            .family_spend
            .check(relay, &key, &call.model, now_ms())
            .await
            .map(RelayError::from)
    } else {
        None
    };
    if let Some(err) = refused {
        record.refused(err.status.as_u16(), err.kind.as_str());
        return err.into_response(protocol);
    }
    if !call.billable {
        if let Err(wait) = relay.counting.admit(&key.id) {
            let err = RelayError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorKind::RateLimit,
                format!(
                    "token counting is limited to {} calls a minute per key",
                    crate::limits::counting::COUNT_TOKENS_PER_MINUTE
                ),
            )
            .retry_after(wait);
            record.refused(err.status.as_u16(), err.kind.as_str());
            return err.into_response(protocol);
        }
    }
    let (estimate, floor) = if call.billable {
        if key.strict_max_tokens {
            if let Err(err) = apply_strict_ceiling(relay, &key, &price, &mut call) {
                record.refused(err.status.as_u16(), err.kind.as_str());
                let mut res = err.into_response(protocol);
                relay.key_headers(&key, res.headers_mut());
                return res;
            }
        }
        let estimate = request_cost::reservation_micros(
            &price.price,
            call.body.len(),
            call.max_output_tokens,
            &call.shape,
        );
        let floor = request_cost::input_cost_micros(
            &price.price,
            request_cost::refusal_prompt_tokens(call.body.len()),
        );
        (estimate, floor)
    } else {
        (0, 0)
    };
    let (day, midnight) =
        crate::limits::directory::day_and_next_midnight(now_ms(), relay.keys.time_zone());
    let admitted = match relay
        .admission
        .admit_within(&key, estimate, floor, day, midnight)
        .await
    {
        Ok(a) => a,
        Err(refusal) => {
            let err = RelayError::from(refusal);
            record.refused(err.status.as_u16(), err.kind.as_str());
            let mut res = err.into_response(protocol);
            relay.key_headers(&key, res.headers_mut());
            return res;
        }
    };
    let mut res =
        super::failover::attempt_loop(relay, adapter, admitted, price, call, started, record).await;
    relay.key_headers(&key, res.headers_mut());
    res
}

/// Strict mode: lowers the request's output ceiling to what the key's remaining quota and
/// today's budget can pay for; refuses (402) when not even one output token fits.
fn apply_strict_ceiling(
    relay: &Relay,
    key: &KeyLimits,
    price: &PriceLookup,
    call: &mut Call,
) -> Result<(), RelayError> {
    let usage = relay.keys.state().usage(&key.id);
    let quota_left = (key.quota_limit > 0).then(|| key.quota_limit - usage.spent - usage.reserved);
    let day_left = (key.daily_cost_limit > 0)
        .then(|| key.daily_cost_limit - usage.day_spent - usage.day_reserved);
    let Some(budget) = quota_left.into_iter().chain(day_left).min() else {
        return Ok(());
    };
    let affordable =
        request_cost::affordable_output_tokens(&price.price, call.body.len(), &call.shape, budget);
    if affordable >= call.max_output_tokens {
        return Ok(());
    }
    if affordable == 0 {
        return Err(RelayError::from(Refusal::InputOverBudget {
            estimate: request_cost::reservation_micros(
                &price.price,
                call.body.len(),
                0,
                &call.shape,
            ),
            remaining: budget.max(0),
            daily: day_left == Some(budget),
        }));
    }
    call.body = call.shape.output_field.rewrite(&call.body, affordable)?;
    call.max_output_tokens = affordable;
    Ok(())
}
