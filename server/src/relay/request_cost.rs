//! What a request may cost before it is sent: its shape (answers, declared server tools,
//! where its output ceiling lives), the cost of its input alone (a request whose input the
//! key cannot pay is refused), and strict mode, which lowers the output ceiling to what the
//! key has left.

use bytes::Bytes;
use serde_json::Value;

use super::error::RelayError;
use super::platforms::server_tools::DeclaredTools;
use crate::pricing::{estimate_micros, ModelPrice, RequestEstimate, ServerToolUse};

/// Where a request names its output ceiling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputField {
    /// The request has none the relay may set (token counting).
    #[default]
    None,
    /// Anthropic `max_tokens`.
    Claude,
    /// Chat Completions `max_tokens` when the client set it, else `max_completion_tokens`.
    Chat,
    /// Responses `max_output_tokens`.
    Responses,
    /// Gemini `generationConfig.maxOutputTokens`.
    Gemini,
}

/// The parts of a request that multiply or add to its cost beyond prompt and output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestShape {
    /// Answers generated (OpenAI `n`, Gemini `candidateCount`); 0 counts as 1.
    pub answers: u64,
    pub tools: DeclaredTools,
    pub output_field: OutputField,
}

/// Prompt tokens guessed from a request body for its reservation: about 3 bytes a token, an
/// overestimate for English and JSON framing, close for CJK text.
pub fn reserved_prompt_tokens(body_len: usize) -> u64 {
    (body_len / 3) as u64
}

/// Prompt tokens guessed for refusing a request outright: about 4 bytes a token, so an
/// honest request is not refused for the JSON around its text.
pub fn refusal_prompt_tokens(body_len: usize) -> u64 {
    (body_len / 4) as u64
}

/// The cost of the prompt alone at the input rate (of the long-context tier when above it).
pub fn input_cost_micros(price: &ModelPrice, prompt_tokens: u64) -> i64 {
    let rates = price.rates_for(prompt_tokens);
    let scaled = i128::from(prompt_tokens).saturating_mul(i128::from(rates.input));
    i64::try_from(scaled.div_euclid(1_000_000)).unwrap_or(i64::MAX)
}

/// The reservation: prompt at its dearest input-side rate, output ceiling × answers, and the
/// most the declared server tools may cost.
pub fn reservation_micros(
    price: &ModelPrice,
    body_len: usize,
    max_output_tokens: u64,
    shape: &RequestShape,
) -> i64 {
    estimate_micros(
        price,
        &RequestEstimate {
            prompt_tokens: reserved_prompt_tokens(body_len),
            max_output_tokens,
            answers: shape.answers.max(1),
            tools: shape.tools.most,
        },
    )
}

/// The largest output ceiling (per answer) whose worst case fits in `budget` micro-USD with
/// the prompt and tools of the request; 0 when not even one token fits.
pub fn affordable_output_tokens(
    price: &ModelPrice,
    body_len: usize,
    shape: &RequestShape,
    budget: i64,
) -> u64 {
    let fixed = reservation_micros(price, body_len, 0, shape);
    let left = i128::from(budget.saturating_sub(fixed));
    let rate = i128::from(
        price
            .rates_for(reserved_prompt_tokens(body_len))
            .output
            .max(1),
    ) * i128::from(shape.answers.max(1));
    if left <= 0 {
        return 0;
    }
    u64::try_from(left.saturating_mul(1_000_000) / rate).unwrap_or(u64::MAX)
}

impl OutputField {
    /// The body with its output ceiling set to `max`.
    pub fn rewrite(self, body: &[u8], max: u64) -> Result<Bytes, RelayError> {
        let field = match self {
            OutputField::None => return Ok(Bytes::copy_from_slice(body)),
            OutputField::Claude => "max_tokens",
            OutputField::Responses => "max_output_tokens",
            OutputField::Chat | OutputField::Gemini => "",
        };
        super::body::rewrite_body(body, |obj| match self {
            OutputField::Chat => {
                let name = if obj.contains_key("max_tokens") {
                    "max_tokens"
                } else {
                    "max_completion_tokens"
                };
                obj.insert(name.into(), Value::from(max));
            }
            OutputField::Gemini => {
                let key = if obj.contains_key("generation_config") {
                    "generation_config"
                } else {
                    "generationConfig"
                };
                let config = obj
                    .entry(key)
                    .or_insert_with(|| Value::Object(Default::default()));
                if !config.is_object() {
                    *config = Value::Object(Default::default());
                }
                if let Some(c) = config.as_object_mut() {
                    c.remove("max_output_tokens");
                    c.insert("maxOutputTokens".into(), Value::from(max));
                }
            }
            _ => {
                obj.insert(field.into(), Value::from(max));
            }
        })
    }
}

/// The fewest tool uses a request declares, for reservations of requests that name none.
pub fn no_tools() -> ServerToolUse {
    ServerToolUse::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_are_rewritten_where_each_protocol_keeps_them() {
        let v = |b: Bytes| serde_json::from_slice::<Value>(&b).unwrap();
        let claude = OutputField::Claude
            .rewrite(br#"{"model":"m","max_tokens":9000}"#, 100)
            .unwrap();
        assert_eq!(v(claude)["max_tokens"], 100);
        let chat = OutputField::Chat
            .rewrite(br#"{"max_tokens":9000}"#, 7)
            .unwrap();
        assert_eq!(v(chat)["max_tokens"], 7);
        let chat = OutputField::Chat.rewrite(br#"{"model":"o3"}"#, 7).unwrap();
        assert_eq!(v(chat)["max_completion_tokens"], 7);
        let resp = OutputField::Responses.rewrite(br#"{}"#, 5).unwrap();
        assert_eq!(v(resp)["max_output_tokens"], 5);
        let gem = OutputField::Gemini
            .rewrite(
                br#"{"generationConfig":{"temperature":1,"maxOutputTokens":8192}}"#,
                3,
            )
            .unwrap();
        let gem = v(gem);
        assert_eq!(gem["generationConfig"]["maxOutputTokens"], 3);
        assert_eq!(gem["generationConfig"]["temperature"], 1);
    }

    #[test]
    fn affordable_output_fits_the_budget() {
        let price = ModelPrice::flat(3_000_000, 15_000_000, 3_750_000, 6_000_000, 300_000);
        let shape = RequestShape {
            answers: 1,
            ..Default::default()
        };
        let body = 30_000; // 10k prompt tokens reserved at $6/MTok (1h cache write) = $0.06
        let n = affordable_output_tokens(&price, body, &shape, 90_000);
        assert_eq!(n, 2_000, "$0.03 left at $15/MTok");
        assert!(reservation_micros(&price, body, n, &shape) <= 90_000);
        assert_eq!(affordable_output_tokens(&price, body, &shape, 50_000), 0);
        let two = RequestShape {
            answers: 2,
            ..shape
        };
        assert_eq!(affordable_output_tokens(&price, body, &two, 90_000), 1_000);
        assert_eq!(input_cost_micros(&price, 10_000), 30_000);
    }
}
