//! Unit tests of the pricing module, by concern.

use super::*;

mod cost;
mod family;
mod lookup;
mod refresh;
mod table;

const SONNET: ModelPrice = ModelPrice::flat(3_000_000, 15_000_000, 3_750_000, 6_000_000, 300_000);

fn usage(input: u64, output: u64, w5: u64, w1: u64, read: u64) -> TokenUsage {
    TokenUsage {
        input,
        output,
        cache_write_5m: w5,
        cache_write_1h: w1,
        cache_read: read,
    }
}

/// A table in LiteLLM's format with one entry per `(name, fields)`.
fn table_json(entries: &[(&str, serde_json::Value)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    serde_json::Value::Object(map).to_string()
}
