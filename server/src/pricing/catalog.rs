//! The models a client can ask for by name, with the price each is billed at: the relay's
//! model lists (`/v1/models`, Gemini's `models`) and the pricing page read it.
//!
//! The table is keyed the way LiteLLM routes, so it is turned into clients' names: a Gemini API
//! entry `gemini/gemini-2.5-pro` is listed as `gemini-2.5-pro` (the name a Gemini client
//! sends), entries under another namespace (`azure/…`, `azure/eu/…`: Azure's spellings of
//! OpenAI's models) are not listed, and neither are models Tollgate does not relay (LiteLLM
//! modes other than chat, responses and completion: embeddings, images, speech, realtime).
//! Each name is listed once, at the price a request for it is billed.

use std::collections::BTreeMap;

use super::{normalize_model, ModelPrice, PriceSource, PricedModel, Pricing};

/// LiteLLM modes of the models the relay serves (an entry without a mode counts too).
const RELAYED_MODES: &[&str] = &["chat", "responses", "completion"];

impl Pricing {
    /// Every listed model and its price, sorted by name.
    pub fn models(&self) -> Vec<(String, ModelPrice)> {
        self.catalog()
            .into_iter()
            .map(|row| (row.model, row.price))
            .collect()
    }

    /// [`Pricing::models`] with where each price comes from, the provider and the limits.
    pub fn catalog(&self) -> Vec<PricedModel> {
        let mut rows: BTreeMap<String, PricedModel> = BTreeMap::new();
        for (key, entry) in &self.table.exact {
            if !entry
                .mode
                .as_deref()
                .is_none_or(|m| RELAYED_MODES.contains(&m))
            {
                continue;
            }
            let name = key.strip_prefix("gemini/").unwrap_or(key);
            if name.contains('/') || rows.contains_key(name) && name != key {
                continue;
            }
            let found = self.lookup(name);
            rows.insert(
                name.to_string(),
                PricedModel {
                    model: name.to_string(),
                    price: found.price,
                    source: found.source,
                    provider: entry.provider.clone(),
                    max_input_tokens: entry.max_input_tokens,
                    max_output_tokens: entry.max_output_tokens,
                },
            );
        }
        for (model, price) in &self.overrides {
            if rows.contains_key(model.as_str()) {
                continue;
            }
            let limits = self.table.by_name(&normalize_model(model));
            rows.insert(
                model.clone(),
                PricedModel {
                    model: model.clone(),
                    price: *price,
                    source: PriceSource::Override,
                    provider: None,
                    max_input_tokens: limits.and_then(|e| e.max_input_tokens),
                    max_output_tokens: limits.and_then(|e| e.max_output_tokens),
                },
            );
        }
        rows.into_values().collect()
    }
}
