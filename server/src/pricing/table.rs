//! One parsed price table and what is derived from it once: the normalised names, the
//! families of its models, and the global fallback price with the table's dearest tool fees.

use std::collections::HashMap;
use std::sync::Arc;

use super::family::{Candidate, FamilyIndex};
use super::litellm::TableEntry;
use super::normalize::normalize_model;
use super::price::{ModelPrice, SearchUnit, ToolFees};
use super::FALLBACK_PRICE;

/// Where a table came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableOrigin {
    /// Shipped with the binary (`server/data/model_prices.json`).
    Builtin,
    /// `PRICING_FILE`.
    File,
    /// Fetched from `PRICING_URL`.
    Url,
}

impl TableOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            TableOrigin::Builtin => "builtin",
            TableOrigin::File => "file",
            TableOrigin::Url => "url",
        }
    }
}

#[derive(Debug)]
pub struct Table {
    pub exact: HashMap<String, TableEntry>,
    /// Normalised names of entries whose key is not already normalised, for requests that
    /// spell the model differently from the table (`claude-3-5-haiku` against a table keyed
    /// `claude-3-5-haiku-20241022`). Where several entries normalise alike the dearest wins.
    pub normalized: HashMap<String, TableEntry>,
    /// The table's own families (without overrides), for the tool fees of overrides.
    pub families: Arc<FamilyIndex>,
    /// [`FALLBACK_PRICE`] with the dearest tool fees any model of the table has.
    pub fallback: ModelPrice,
    pub origin: TableOrigin,
    /// When the table was read or fetched (epoch ms).
    pub loaded_at_ms: i64,
}

impl Table {
    pub fn new(
        exact: HashMap<String, TableEntry>,
        origin: TableOrigin,
        loaded_at_ms: i64,
    ) -> Table {
        let mut normalized: HashMap<String, TableEntry> = HashMap::new();
        for (key, entry) in &exact {
            let name = normalize_model(key);
            if name == *key || exact.contains_key(&name) {
                continue;
            }
            match normalized.get(&name) {
                Some(current) if price_rank(&current.price) >= price_rank(&entry.price) => {}
                _ => {
                    normalized.insert(name, entry.clone());
                }
            }
        }
        // Every search at the dearest fee: a name nothing recognises may be billed per query.
        let fees = ToolFees {
            search_unit: SearchUnit::Query,
            ..exact
                .values()
                .fold(ToolFees::default(), |acc, e| acc.max(e.price.tool_fees))
        };
        let mut table = Table {
            exact,
            normalized,
            families: Arc::default(),
            fallback: ModelPrice {
                tool_fees: fees,
                ..FALLBACK_PRICE
            },
            origin,
            loaded_at_ms,
        };
        table.families = Arc::new(FamilyIndex::build(table.candidates()));
        table
    }

    /// The entry a normalised name is priced by.
    pub fn by_name(&self, normalized: &str) -> Option<&TableEntry> {
        self.exact
            .get(normalized)
            .or_else(|| self.normalized.get(normalized))
    }

    /// Every normalised name the table prices, with its price, sorted by name.
    pub fn candidates(&self) -> Vec<Candidate> {
        let mut out: Vec<Candidate> = self
            .exact
            .iter()
            .filter(|(key, _)| normalize_model(key) == **key)
            .chain(self.normalized.iter())
            .map(|(name, e)| Candidate {
                name: name.clone(),
                price: e.price,
                max_output_tokens: e.max_output_tokens,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// The tool fees a model would have without overrides: its entry's, its family's, or the
    /// fallback's.
    pub fn tool_fees_of(&self, model: &str) -> ToolFees {
        let name = normalize_model(model);
        self.exact
            .get(model)
            .or_else(|| self.by_name(&name))
            .map(|e| e.price.tool_fees)
            .or_else(|| self.families.find(&name).map(|(_, c)| c.price.tool_fees))
            .unwrap_or(self.fallback.tool_fees)
    }
}

/// Orders prices for "dearest wins" without depending on hash-map iteration order.
fn price_rank(p: &ModelPrice) -> (i64, i64, i64, i64, i64) {
    (
        p.output,
        p.input,
        p.cache_write_1h,
        p.cache_write_5m,
        p.cache_read,
    )
}
