//! The key form's restrictions: which clients may use the key, from which addresses, and daily
//! cost caps per model family (`opus=5, sonnet=20`).

use std::collections::BTreeMap;

use leptos::prelude::*;

use super::word_list;
use crate::tr;
use crate::types::KeySettings;
// The clients `allowedClients` can name, with their labels.
use crate::types::KEY_CLIENTS as CLIENTS;

/// The form's state for one key (or preset).
#[derive(Clone, Copy)]
pub struct RestrictionSignals {
    clients: [RwSignal<bool>; 3],
    cidrs: RwSignal<String>,
    caps: RwSignal<String>,
}

impl RestrictionSignals {
    pub fn new(
        clients: &[String],
        cidrs: &[String],
        caps: &BTreeMap<String, f64>,
    ) -> RestrictionSignals {
        RestrictionSignals {
            clients: CLIENTS.map(|(c, _)| RwSignal::new(clients.iter().any(|x| x == c))),
            cidrs: RwSignal::new(cidrs.join(", ")),
            caps: RwSignal::new(
                caps.iter()
                    .map(|(f, usd)| format!("{f}={usd}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        }
    }

    /// A new key's or preset's fields: nothing restricted.
    pub fn empty() -> RestrictionSignals {
        RestrictionSignals::new(&[], &[], &BTreeMap::new())
    }

    /// A preset's saved restrictions.
    pub fn from_settings(s: &KeySettings) -> RestrictionSignals {
        RestrictionSignals::new(
            s.allowed_clients.as_deref().unwrap_or_default(),
            s.allowed_cidrs.as_deref().unwrap_or_default(),
            &s.model_daily_cost_limits.clone().unwrap_or_default(),
        )
    }

    /// The restrictions as settings for a new key or a preset, everything else default; an
    /// empty field is left out (a new key then takes its preset's). `None` when a cap does not
    /// parse.
    pub fn settings(&self) -> Option<KeySettings> {
        let caps = self.caps()?;
        let clients = self.clients();
        let cidrs = self.cidrs();
        Some(KeySettings {
            allowed_clients: (!clients.is_empty()).then_some(clients),
            allowed_cidrs: (!cidrs.is_empty()).then_some(cidrs),
            model_daily_cost_limits: (!caps.is_empty()).then_some(caps),
            ..Default::default()
        })
    }

    pub fn clients(&self) -> Vec<String> {
        CLIENTS
            .iter()
            .zip(self.clients)
            .filter(|(_, on)| on.get())
            .map(|((c, _), _)| (*c).to_owned())
            .collect()
    }

    pub fn cidrs(&self) -> Vec<String> {
        word_list(&self.cidrs.get())
    }

    /// `family=usd` pairs; `None` when one does not parse.
    pub fn caps(&self) -> Option<BTreeMap<String, f64>> {
        parse_caps(&self.caps.get())
    }
}

/// `opus=5, sonnet=20` → `{opus: 5, sonnet: 20}`.
pub fn parse_caps(text: &str) -> Option<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    for pair in word_list(text) {
        let (family, usd) = pair.split_once('=')?;
        let usd: f64 = usd.trim().parse().ok().filter(|v: &f64| v.is_finite())?;
        out.insert(family.trim().to_owned(), usd);
    }
    Some(out)
}

#[component]
pub fn RestrictionFields(signals: RestrictionSignals, id: &'static str) -> impl IntoView {
    let cidrs_id = format!("{id}-cidrs");
    let caps_id = format!("{id}-caps");
    view! {
        <fieldset data-testid=format!("{id}-restrictions")>
            <legend>{tr("keys.restrictions")}</legend>
            <p class="hint">{tr("keys.restrictions_hint")}</p>
            <div class="checks" role="group" aria-label=tr("keys.allowed_clients")>
                <span class="muted">{tr("keys.allowed_clients")}</span>
                {CLIENTS
                    .into_iter()
                    .zip(signals.clients)
                    .map(|((client, label), on)| {
                        view! {
                            <label class="check">
                                <input type="checkbox" data-testid=format!("{id}-client-{client}") bind:checked=on />
                                {label}
                            </label>
                        }
                    })
                    .collect_view()}
            </div>
            <label for=cidrs_id.clone()>{tr("keys.allowed_cidrs")}</label>
            <input id=cidrs_id type="text" placeholder="203.0.113.0/24, 2001:db8::/32" bind:value=signals.cidrs />
            <label for=caps_id.clone()>{tr("keys.family_caps")}</label>
            <input id=caps_id type="text" placeholder="opus=5" bind:value=signals.caps />
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_parse_or_refuse() {
        let caps = parse_caps("opus=5, gpt-5 = 2.5").unwrap();
        assert_eq!(caps.get("opus"), Some(&5.0));
        assert_eq!(caps.get("gpt-5"), Some(&2.5));
        assert!(parse_caps("").unwrap().is_empty());
        assert!(parse_caps("opus").is_none());
        assert!(parse_caps("opus=x").is_none());
    }
}
