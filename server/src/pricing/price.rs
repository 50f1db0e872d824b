//! What a model costs (token rates, the long-context tier, server-side tool fees) and what a
//! request used (tokens, tool calls). Rates are integer micro-USD per million tokens, fees
//! integer micro-USD per use.

use serde::{Deserialize, Serialize};

/// Rates in micro-USD per million tokens (3 000 000 = $3 / MTok), by how tokens are billed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRates {
    pub input: i64,
    pub output: i64,
    pub cache_write_5m: i64,
    pub cache_write_1h: i64,
    pub cache_read: i64,
}

/// The price of one model. The five flat fields are the standard tier; `long_context`, when
/// present, replaces them for a whole request whose prompt is above its threshold (Anthropic,
/// Gemini and OpenAI all bill every token of such a request at the higher rates).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelPrice {
    pub input: i64,
    pub output: i64,
    pub cache_write_5m: i64,
    pub cache_write_1h: i64,
    pub cache_read: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_context: Option<LongContext>,
    #[serde(default, skip_serializing_if = "ToolFees::is_free")]
    pub tool_fees: ToolFees,
}

impl ModelPrice {
    /// The price as the JSON a usage event records. The same few prices come back request
    /// after request, so each thread keeps the last one serialised and copies it.
    pub fn to_json(&self) -> String {
        thread_local! {
            static LAST: std::cell::RefCell<Option<(ModelPrice, String)>> =
                const { std::cell::RefCell::new(None) };
        }
        LAST.with(|last| {
            let mut last = last.borrow_mut();
            match last.as_ref() {
                Some((price, json)) if price == self => json.clone(),
                _ => {
                    let json = serde_json::to_string(self).unwrap_or_default();
                    *last = Some((*self, json.clone()));
                    json
                }
            }
        })
    }
}

/// The dearer rates of a request whose prompt (input + cache reads + cache writes) is above
/// `above_prompt_tokens` (LiteLLM's `*_above_200k_tokens`, `*_above_272k_tokens`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LongContext {
    pub above_prompt_tokens: u64,
    pub rates: TokenRates,
}

/// Server-side tools billed per use on top of tokens, in micro-USD per use. Where the values
/// come from is documented in `litellm.rs` (per-model fields, else the provider's dearest).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolFees {
    /// One web search (Anthropic `web_search`, OpenAI `web_search`) or one Google Search
    /// grounding unit (Gemini; see `search_unit`).
    pub web_search: i64,
    /// What one grounding unit is for Gemini: a search query (Gemini 3) or a grounded request
    /// (Gemini 2.x). Anthropic and OpenAI bill per search.
    #[serde(default)]
    pub search_unit: SearchUnit,
    /// One code-interpreter container session (OpenAI). Anthropic bills code execution per
    /// container-hour beyond a free allowance, which no single request can be charged for.
    pub code_execution: i64,
    /// One Google Maps grounding query (Gemini).
    pub maps_grounding: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SearchUnit {
    #[default]
    Query,
    Request,
}

impl ToolFees {
    pub fn is_free(&self) -> bool {
        self.web_search == 0 && self.code_execution == 0 && self.maps_grounding == 0
    }

    /// The dearer of each fee.
    pub fn max(self, other: ToolFees) -> ToolFees {
        ToolFees {
            web_search: self.web_search.max(other.web_search),
            search_unit: if self.web_search >= other.web_search {
                self.search_unit
            } else {
                other.search_unit
            },
            code_execution: self.code_execution.max(other.code_execution),
            maps_grounding: self.maps_grounding.max(other.maps_grounding),
        }
    }
}

impl ModelPrice {
    /// One flat price for every prompt length, with no tool fees (an admin override).
    pub const fn flat(
        input: i64,
        output: i64,
        cache_write_5m: i64,
        cache_write_1h: i64,
        cache_read: i64,
    ) -> ModelPrice {
        ModelPrice {
            input,
            output,
            cache_write_5m,
            cache_write_1h,
            cache_read,
            long_context: None,
            tool_fees: ToolFees {
                web_search: 0,
                search_unit: SearchUnit::Query,
                code_execution: 0,
                maps_grounding: 0,
            },
        }
    }

    /// The standard-tier rates.
    pub fn base(&self) -> TokenRates {
        TokenRates {
            input: self.input,
            output: self.output,
            cache_write_5m: self.cache_write_5m,
            cache_write_1h: self.cache_write_1h,
            cache_read: self.cache_read,
        }
    }

    /// The rates a request with `prompt_tokens` of prompt is billed at.
    pub fn rates_for(&self, prompt_tokens: u64) -> TokenRates {
        match self.long_context {
            Some(tier) if prompt_tokens > tier.above_prompt_tokens => tier.rates,
            _ => self.base(),
        }
    }
}

/// Tokens of one request by how they are billed. `input` excludes cached and cache-write
/// tokens (Anthropic's `input_tokens`; for OpenAI, prompt tokens minus cached tokens).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub input: u64,
    pub output: u64,
    pub cache_write_5m: u64,
    pub cache_write_1h: u64,
    pub cache_read: u64,
}

/// The most tokens one answer is billed for per kind: 2^40 (1.1 trillion). Only a hostile or
/// broken upstream reports more; capped, the count still prices past any quota, and the
/// database's sums of such counts stay far from overflowing (which would refuse the usage).
pub const MAX_REPORTED_TOKENS: u64 = 1 << 40;

impl TokenUsage {
    /// Every count capped at [`MAX_REPORTED_TOKENS`].
    pub fn capped(self) -> TokenUsage {
        let cap = |n: u64| n.min(MAX_REPORTED_TOKENS);
        TokenUsage {
            input: cap(self.input),
            output: cap(self.output),
            cache_write_5m: cap(self.cache_write_5m),
            cache_write_1h: cap(self.cache_write_1h),
            cache_read: cap(self.cache_read),
        }
    }

    /// The prompt's size, which decides the long-context tier.
    pub fn prompt_tokens(&self) -> u64 {
        self.input
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_write_5m)
            .saturating_add(self.cache_write_1h)
    }
}

/// Server-side tool uses of one request, beside its tokens, for the relay's usage parsers to
/// fill: `web_searches` from Anthropic `usage.server_tool_use.web_search_requests`, OpenAI
/// Responses `web_search_call` output items (Chat: one per answer of a `*-search-*` model) and
/// Gemini `groundingMetadata.webSearchQueries` (their number); `grounded_requests` one per
/// Gemini candidate with `groundingMetadata`; `code_executions` one per OpenAI
/// `code_interpreter_call` with a container not seen before in the answer; `maps_queries` from
/// Gemini's Maps grounding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerToolUse {
    /// Web searches run (Anthropic, OpenAI) or Google Search queries issued (Gemini).
    pub web_searches: u64,
    /// Gemini answers grounded in Google Search (0 or 1 per candidate), for models billed per
    /// grounded request.
    pub grounded_requests: u64,
    /// Code-interpreter container sessions opened (OpenAI).
    pub code_executions: u64,
    /// Google Maps grounding queries (Gemini).
    pub maps_queries: u64,
}

impl ServerToolUse {
    pub fn is_none(&self) -> bool {
        *self == ServerToolUse::default()
    }
}
