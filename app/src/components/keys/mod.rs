//! The keys page's parts: the table, the forms (one key, a batch for orders, edit), the
//! keys shown once after creation, the binding pickers, the usage panel, and renewals (one
//! key's ledger and renew form, a selection renewed at once).

pub mod batch;
pub mod batch_renew;
pub mod binding;
pub mod create;
pub mod created;
pub mod edit;
pub mod ledger;
pub mod presets;
pub mod renew;
pub mod restrictions;
pub mod table;
pub mod usage;

use crate::types::{Account, AccountGroup, KeyPreset};

/// What the keys page shows names of: presets, accounts and groups, by id.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Directory {
    pub presets: Vec<KeyPreset>,
    pub accounts: Vec<Account>,
    pub groups: Vec<AccountGroup>,
}

impl Directory {
    pub fn preset_name(&self, id: &str) -> String {
        self.presets
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| id.to_owned())
    }

    /// A stored binding (`""`, an account id, `group:<id>`) as a name; `None` for the pool.
    pub fn binding_name(&self, binding: &str) -> Option<String> {
        if binding.is_empty() {
            return None;
        }
        Some(match binding.strip_prefix("group:") {
            Some(group) => self
                .groups
                .iter()
                .find(|g| g.id == group)
                .map(|g| g.name.clone())
                .unwrap_or_else(|| group.to_owned()),
            None => self
                .accounts
                .iter()
                .find(|a| a.id == binding)
                .map(|a| a.name.clone())
                .unwrap_or_else(|| binding.to_owned()),
        })
    }
}

/// Parses an optional money or count field; empty is `None`, junk is an error.
pub fn optional_number<T: std::str::FromStr>(text: &str) -> Result<Option<T>, ()> {
    let text = text.trim();
    if text.is_empty() {
        Ok(None)
    } else {
        text.parse().map(Some).map_err(|_| ())
    }
}

/// Comma- or newline-separated words, trimmed, empties dropped.
pub fn word_list(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A date from a date input, sent as written: the server takes it as the end of that day in
/// its configured time zone (and shows it back as this date).
pub fn date_input(date: &str) -> Option<crate::types::When> {
    chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .ok()
        .map(crate::types::When::Day)
}

/// The date input's value for an expiry: the date as written, or the instant's day in the
/// display time zone.
pub fn date_value(at: crate::types::When, offset_secs: i32) -> String {
    match at {
        crate::types::When::Day(day) => day.format("%Y-%m-%d").to_string(),
        crate::types::When::At(at) => (at + chrono::Duration::seconds(i64::from(offset_secs)))
            .format("%Y-%m-%d")
            .to_string(),
    }
}

/// A `<select>` of presets; `""` is "no preset".
#[leptos::component]
pub fn PresetSelect(
    presets: Vec<crate::types::KeyPreset>,
    value: leptos::prelude::RwSignal<String>,
    #[prop(into)] id: String,
    #[prop(optional)] required: bool,
) -> impl leptos::IntoView {
    use leptos::prelude::*;
    let current = value.get_untracked();
    view! {
        <select
            id=id
            required=required
            on:change=move |ev| value.set(event_target_value(&ev))
            prop:value=move || value.get()
        >
            {(!required).then(|| view! { <option value="">{crate::tr("keys.no_preset")}</option> })}
            {presets
                .into_iter()
                .map(|p| {
                    let selected = p.id == current;
                    view! { <option value=p.id.clone() selected=selected>{p.name}</option> }
                })
                .collect_view()}
        </select>
    }
}
