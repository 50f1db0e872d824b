//! Exact integer costs: what a finished request is billed, and the most a request about to be
//! sent can cost (its quota reservation).

use super::price::{ModelPrice, SearchUnit, ServerToolUse, TokenRates, TokenUsage};

/// Micro-USD in one USD; also tokens in one price unit (prices are per million tokens).
const MICROS_PER_MTOK_DIVISOR: i128 = 1_000_000;

/// The cost of `usage` at `price` in micro-USD, rounded half up once over the whole sum. A
/// prompt above the model's long-context threshold is billed at the long-context rates.
pub fn cost_micros(price: &ModelPrice, usage: &TokenUsage) -> i64 {
    cost_with_tools_micros(price, usage, &ServerToolUse::default())
}

/// [`cost_micros`] plus the fees of the server-side tools the request used.
pub fn cost_with_tools_micros(
    price: &ModelPrice,
    usage: &TokenUsage,
    tools: &ServerToolUse,
) -> i64 {
    let rates = price.rates_for(usage.prompt_tokens());
    let scaled = token_cost_scaled(&rates, usage).saturating_add(tool_fees_scaled(price, tools));
    saturate(
        scaled
            .saturating_add(MICROS_PER_MTOK_DIVISOR / 2)
            .div_euclid(MICROS_PER_MTOK_DIVISOR),
    )
}

/// Micro-USD × 10⁶ (so that one rounding covers tokens and fees together).
fn token_cost_scaled(rates: &TokenRates, usage: &TokenUsage) -> i128 {
    [
        (usage.input, rates.input),
        (usage.output, rates.output),
        (usage.cache_write_5m, rates.cache_write_5m),
        (usage.cache_write_1h, rates.cache_write_1h),
        (usage.cache_read, rates.cache_read),
    ]
    .into_iter()
    .fold(0i128, |sum, (tokens, rate)| {
        sum.saturating_add(i128::from(tokens).saturating_mul(i128::from(rate)))
    })
}

fn tool_fees_scaled(price: &ModelPrice, tools: &ServerToolUse) -> i128 {
    let fees = &price.tool_fees;
    let searches = match fees.search_unit {
        SearchUnit::Query => tools.web_searches,
        // Billed per grounded answer; a search reported without the grounded flag still
        // grounded the answer it belongs to.
        SearchUnit::Request => tools
            .grounded_requests
            .max(u64::from(tools.web_searches > 0)),
    };
    [
        (searches, fees.web_search),
        (tools.code_executions, fees.code_execution),
        (tools.maps_queries, fees.maps_grounding),
    ]
    .into_iter()
    .fold(0i128, |sum, (uses, fee)| {
        sum.saturating_add(
            i128::from(uses)
                .saturating_mul(i128::from(fee))
                .saturating_mul(MICROS_PER_MTOK_DIVISOR),
        )
    })
}

/// What the reservation of a request is computed from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestEstimate {
    /// The prompt's size, estimated from the request (an overestimate is safe).
    pub prompt_tokens: u64,
    /// The output ceiling of one answer (`max_tokens` or the model's maximum).
    pub max_output_tokens: u64,
    /// Answers generated (OpenAI `n`, Gemini `candidateCount`); 0 counts as 1.
    pub answers: u64,
    /// The most server-side tool uses the request may cause (e.g. Anthropic's `max_uses`).
    pub tools: ServerToolUse,
}

/// The most a request can cost before it runs, for quota reservations, rounded up. The prompt
/// is charged at the dearest input-side rate because the client decides, through
/// `cache_control`, whether its prompt is billed as input or as a (1-hour) cache write, and
/// at the long-context rates when the estimate is above the threshold; output at the ceiling
/// times the number of answers; tool uses at their fees.
pub fn estimate_micros(price: &ModelPrice, estimate: &RequestEstimate) -> i64 {
    let rates = price.rates_for(estimate.prompt_tokens);
    let input_rate = rates
        .input
        .max(rates.cache_write_5m)
        .max(rates.cache_write_1h)
        .max(rates.cache_read);
    let outputs = estimate
        .max_output_tokens
        .saturating_mul(estimate.answers.max(1));
    let tools = ServerToolUse {
        // Whichever way searches are billed, this many uses cover it.
        grounded_requests: estimate
            .tools
            .grounded_requests
            .max(estimate.answers.max(1).min(estimate.tools.web_searches)),
        ..estimate.tools
    };
    let scaled = i128::from(estimate.prompt_tokens)
        .saturating_mul(i128::from(input_rate))
        .saturating_add(i128::from(outputs).saturating_mul(i128::from(rates.output)))
        .saturating_add(tool_fees_scaled(price, &tools));
    // Ceiling division (prices are non-negative, and a negative sum only rounds toward zero).
    let ceil = scaled
        .saturating_add(MICROS_PER_MTOK_DIVISOR - 1)
        .div_euclid(MICROS_PER_MTOK_DIVISOR);
    saturate(ceil)
}

/// [`estimate_micros`] of one answer without tools: the reservation of a plain request.
pub fn worst_case_micros(
    price: &ModelPrice,
    input_tokens_estimate: u64,
    max_output_tokens: u64,
) -> i64 {
    estimate_micros(
        price,
        &RequestEstimate {
            prompt_tokens: input_tokens_estimate,
            max_output_tokens,
            answers: 1,
            tools: ServerToolUse::default(),
        },
    )
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}
