//! What a CRS key allows and until when, in Tollgate's terms: its platforms, its expiry (fixed
//! or from the first use), its client restriction, and the settings Tollgate has no place for
//! (reported as notes, never silently dropped).

use app::types::{ImportNote, Platform};

use super::source::Fields;
use super::{field, flag, int, json_list, note, parse_time, usd};

const MAX_ACTIVATION_DAYS: i64 = 3650;
const DAY_MS: i64 = 86_400_000;

/// CRS permissions: a JSON list (`[]` = all) or an older single word (`all`, `claude`, ...).
/// Platforms Tollgate does not have are dropped; a key left with none cannot be imported
/// (an empty list would mean "all" here).
pub(super) fn permissions(raw: &str) -> Result<Vec<String>, String> {
    let raw = raw.trim();
    let listed: Vec<String> = if raw.starts_with('[') {
        json_list(raw)
    } else if raw.is_empty() || raw == "all" {
        Vec::new()
    } else {
        vec![raw.to_owned()]
    };
    let known: Vec<String> = listed
        .iter()
        .filter(|p| Platform::parse(p).is_some())
        .cloned()
        .collect();
    if !listed.is_empty() && known.is_empty() {
        return Err(format!(
            "its permissions {listed:?} name no platform Tollgate relays"
        ));
    }
    Ok(known)
}

/// Fixed expiry, or validity from the first use (`expirationMode: activation`).
pub(super) fn expiry(
    f: &Fields,
    notes: &mut Vec<ImportNote>,
) -> (Option<i64>, Option<i64>, Option<i64>) {
    let expires_at = parse_time(field(f, "expiresAt"));
    if field(f, "expirationMode") != "activation" {
        return (expires_at, None, None);
    }
    let amount = int(f, "activationDays");
    let hours = field(f, "activationUnit") == "hours";
    let days = if hours { (amount + 23) / 24 } else { amount }.clamp(1, MAX_ACTIVATION_DAYS);
    let activated = flag(f, "isActivated", false);
    let activated_at = parse_time(field(f, "activatedAt")).filter(|_| activated);
    match (activated_at, expires_at) {
        // Activated: CRS fixed the expiry then. Keep it as activation + days when that is what
        // it is (within a second), else as the fixed date CRS holds.
        (Some(start), Some(end)) if (start + days * DAY_MS - end).abs() <= 1000 => {
            (None, Some(days), Some(start))
        }
        (Some(_), Some(end)) => (Some(end), None, None),
        (Some(start), None) => (None, Some(days), Some(start)),
        (None, _) => {
            if hours && amount % 24 != 0 {
                notes.push(note(
                    "activation_hours",
                    format!(
                        "validity of {amount} hours from the first use rounded up to {days} days"
                    ),
                ));
            }
            (None, Some(days), None)
        }
    }
}

/// CRS's client restriction (`enableClientRestriction` + `allowedClients`) as `allowedClients`.
/// Clients Tollgate does not recognise are dropped with a note; a restriction left with none of
/// its clients would mean "any client" here, so the key is then noted as unrestricted.
pub(super) fn allowed_clients(f: &Fields, notes: &mut Vec<ImportNote>) -> Vec<String> {
    let clients = json_list(field(f, "allowedClients"));
    if !flag(f, "enableClientRestriction", false) || clients.is_empty() {
        return Vec::new();
    }
    let known: Vec<String> = clients
        .iter()
        .filter(|c| crate::keys::restrictions::CLIENTS.contains(&c.as_str()))
        .cloned()
        .collect();
    let unknown: Vec<&String> = clients.iter().filter(|c| !known.contains(c)).collect();
    if !unknown.is_empty() {
        let outcome = if known.is_empty() {
            "the key is left without a client restriction".to_string()
        } else {
            format!("kept {known:?}")
        };
        notes.push(note(
            "client_restriction",
            format!("clients {unknown:?} of the client restriction are not recognised by Tollgate (claude_code, codex_cli, gemini_cli): {outcome}"),
        ));
    }
    known
}

/// Settings of a CRS key Tollgate has no place for (yet).
pub(super) fn report_dropped(f: &Fields, notes: &mut Vec<ImportNote>) {
    let models = json_list(field(f, "restrictedModels"));
    if flag(f, "enableModelRestriction", false) && !models.is_empty() {
        notes.push(note(
            "model_blacklist",
            format!("model blacklist {models:?} is not carried over: Tollgate restricts models by an allow list only"),
        ));
    }
    let weekly = field(f, "weeklyOpusCostLimit");
    if usd(weekly) > 0 {
        notes.push(note(
            "weekly_opus_limit",
            format!("weekly Opus cost limit ${weekly} is not carried over"),
        ));
    }
    if int(f, "tokenLimit") > 0 {
        notes.push(note(
            "token_limit",
            format!(
                "token limit per rate window ({}) is not carried over",
                field(f, "tokenLimit")
            ),
        ));
    }
    let rates = field(f, "serviceRates").trim();
    if !rates.is_empty() && rates != "{}" && rates != "null" {
        notes.push(note(
            "service_rates",
            format!("service rates {rates} are not carried over: Tollgate bills list prices"),
        ));
    }
}
