//! A key's restrictions: which clients may use it, from which networks, and how much each
//! model family may cost it a day.

use app::error::AdminError;
use app::types::KeySettings;

use super::fields::{clean_list, money, Fields};
use crate::keys::restrictions::{self, Restrictions};

/// `allowedClients`, `allowedCidrs` and `modelDailyCostLimits`.
pub(super) fn restrictions(f: &Fields, s: &KeySettings) -> Result<Restrictions, AdminError> {
    let allowed_clients = clean_list(f, "allowedClients", s.allowed_clients.as_deref(), 8, 32)?;
    if let Some(bad) = allowed_clients
        .iter()
        .find(|c| !restrictions::CLIENTS.contains(&c.as_str()))
    {
        return Err(f.err(
            "allowedClients",
            format!("unknown client '{bad}' (use claude_code, codex_cli or gemini_cli)"),
        ));
    }
    let mut allowed_cidrs = Vec::new();
    for entry in clean_list(
        f,
        "allowedCidrs",
        s.allowed_cidrs.as_deref(),
        restrictions::MAX_CIDRS,
        64,
    )? {
        let net = restrictions::parse_cidr(&entry).map_err(|e| f.err("allowedCidrs", e))?;
        let net = net.to_string();
        if !allowed_cidrs.contains(&net) {
            allowed_cidrs.push(net);
        }
    }
    let limits = s.model_daily_cost_limits.clone().unwrap_or_default();
    if limits.len() > restrictions::MAX_FAMILIES {
        return Err(f.err(
            "modelDailyCostLimits",
            format!("must have at most {} families", restrictions::MAX_FAMILIES),
        ));
    }
    let mut model_daily_cost_limits = std::collections::BTreeMap::new();
    for (family, usd) in limits {
        let family = family.trim().to_ascii_lowercase();
        if !restrictions::valid_family(&family) {
            return Err(f.err(
                "modelDailyCostLimits",
                format!("'{family}' is not a model family: use a part of model names such as opus, sonnet, gpt-5 or flash (letters, digits, '.', '-', '_')"),
            ));
        }
        let micros = money(f, "modelDailyCostLimits", Some(usd))?;
        if micros > 0 {
            model_daily_cost_limits.insert(family, micros);
        }
    }
    Ok(Restrictions {
        allowed_clients,
        allowed_cidrs,
        model_daily_cost_limits,
    })
}
