//! The operator the reports benchmark plays: which keys exist, who uses which accounts and
//! models, and a deterministic stream of usage events, one day at a time. The shapes follow
//! what the relay records: Claude Code-like traffic (sessions that stick to one account, a
//! small model for side tasks, big cache reads), a few percent errors, keys that stop at their
//! quota or expiry, traffic that grows over the quarter and sleeps at night (Asia/Shanghai).

use std::sync::Arc;

use app::types::Platform;
use rand::rngs::StdRng;
use rand::Rng;
use tollgate::pricing::{cost_micros, PriceSource, Pricing, TokenUsage};
use tollgate::relay::writer::UsageEvent;

pub const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

const PLATFORMS: [Platform; 3] = [Platform::Claude, Platform::Openai, Platform::Gemini];

/// A model, how often sessions pick it, and whether it is the platform's small model (the one
/// clients use for side tasks inside a session).
struct ModelSpec {
    name: &'static str,
    weight: u32,
    small: bool,
}

/// 15 models: 13 in the built-in price table, 2 that fall back to the default price (a new
/// preview model and a typo'd custom name), as the pricing page's fallback list expects.
#[rustfmt::skip]
const MODELS: [&[ModelSpec]; 3] = [
    &[
        ModelSpec { name: "claude-sonnet-4-5-20250929", weight: 55, small: false },
        ModelSpec { name: "claude-opus-4-1-20250805", weight: 10, small: false },
        ModelSpec { name: "claude-sonnet-4-20250514", weight: 12, small: false },
        ModelSpec { name: "claude-3-5-haiku-20241022", weight: 3, small: false },
        ModelSpec { name: "claude-haiku-4-5-20251001", weight: 0, small: true },
        ModelSpec { name: "claude-sonnet-5-preview", weight: 1, small: false },
    ],
    &[
        ModelSpec { name: "gpt-5", weight: 35, small: false },
        ModelSpec { name: "gpt-5-codex", weight: 30, small: false },
        ModelSpec { name: "gpt-4.1", weight: 10, small: false },
        ModelSpec { name: "gpt-5-mini", weight: 0, small: true },
        ModelSpec { name: "gpt-4o-mini", weight: 5, small: false },
        ModelSpec { name: "gpt-5-codex-internal", weight: 1, small: false },
    ],
    &[
        ModelSpec { name: "gemini-2.5-pro", weight: 50, small: false },
        ModelSpec { name: "gemini-2.0-flash", weight: 10, small: false },
        ModelSpec { name: "gemini-2.5-flash", weight: 20, small: true },
    ],
];

pub fn model_count() -> usize {
    MODELS.iter().map(|m| m.len()).sum()
}

/// Requests per million of a day by local hour (Asia/Shanghai): quiet nights, busy office hours.
#[rustfmt::skip]
const DIURNAL: [u32; 24] = [
    30, 20, 10, 10, 10, 10, 20, 40, 70, 90, 100, 100, 80, 90, 100, 100, 100, 90, 80, 80, 80, 70, 60, 40,
];

/// One sellable key kind. `share` is per mille of the keys.
pub struct Kind {
    pub preset_id: Option<&'static str>,
    pub label: &'static str,
    pub share: u32,
    pub validity_days: Option<i64>,
    pub quota_micros: i64,
    pub sale_micros: i64,
    pub currency: &'static str,
    /// How much busier than an average key.
    pub activity: f64,
    /// Per mille bound to their platform's group.
    pub bound: u32,
}

/// The presets the keys are sold from; `"preset-two-week"` is created by the benchmark, the rest
/// ship with every installation.
#[rustfmt::skip]
pub const KINDS: [Kind; 5] = [
    Kind { preset_id: Some("preset-trial"), label: "trial", share: 450, validity_days: Some(7), quota_micros: 20_000_000, sale_micros: 9_900_000, currency: "CNY", activity: 1.0, bound: 0 },
    Kind { preset_id: Some(TWO_WEEK), label: "two-week", share: 150, validity_days: Some(14), quota_micros: 50_000_000, sale_micros: 59_000_000, currency: "CNY", activity: 1.2, bound: 100 },
    Kind { preset_id: Some("preset-monthly"), label: "monthly", share: 250, validity_days: Some(30), quota_micros: 100_000_000, sale_micros: 199_000_000, currency: "CNY", activity: 1.5, bound: 250 },
    Kind { preset_id: Some("preset-enterprise"), label: "enterprise", share: 50, validity_days: Some(365), quota_micros: 0, sale_micros: 2_999_000_000, currency: "CNY", activity: 6.0, bound: 600 },
    Kind { preset_id: None, label: "manual", share: 100, validity_days: None, quota_micros: 0, sale_micros: 0, currency: "USD", activity: 2.0, bound: 0 },
];

/// Placeholder id of the preset the benchmark creates; replaced by the real id at seed time.
pub const TWO_WEEK: &str = "preset-two-week";

pub struct Key {
    pub id: Arc<str>,
    pub kind: usize,
    /// The preset's real id (see [`TWO_WEEK`]).
    pub preset_id: Option<String>,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub platform: usize,
    /// The group the key is bound to on its platform, if any.
    pub group: Option<usize>,
    pub weight: f64,
}

impl Key {
    /// Until when the key can be used.
    fn ends_at(&self) -> i64 {
        self.deleted_at.or(self.expires_at).unwrap_or(i64::MAX)
    }
}

/// Accounts by platform: the shared pool, and the one group with its members.
pub struct Pool {
    pub shared: [Vec<Arc<str>>; 3],
    pub group_ids: [Arc<str>; 3],
    pub group_members: [Vec<Arc<str>>; 3],
}

/// A standard normal variate (Box–Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn lognormal(rng: &mut StdRng, median: f64, sigma: f64, cap: f64) -> u64 {
    (median * (sigma * normal(rng)).exp()).clamp(1.0, cap) as u64
}

fn pick<T>(rng: &mut StdRng, items: &[T], weight: impl Fn(&T) -> u32) -> usize {
    let total: u32 = items.iter().map(&weight).sum();
    let mut r = rng.gen_range(0..total.max(1));
    for (i, item) in items.iter().enumerate() {
        let w = weight(item);
        if r < w {
            return i;
        }
        r -= w;
    }
    items.len() - 1
}

/// 5,000-ish keys sold over the quarter (and the enterprise and manual ones before it), more
/// of them towards the end as the business grows.
pub fn keys(rng: &mut StdRng, count: usize, start: i64, now: i64) -> Vec<Key> {
    (0..count)
        .map(|n| {
            let kind = pick(rng, &KINDS, |k| k.share);
            let k = &KINDS[kind];
            let (from, to) = match k.validity_days {
                Some(365) => (start - 180 * DAY_MS, now - 30 * DAY_MS),
                Some(days) => (start - days * DAY_MS, now - HOUR_MS),
                None => (start - 120 * DAY_MS, now - DAY_MS),
            };
            // Half uniform, half with a density growing linearly towards `to`.
            let u: f64 = rng.gen();
            let share = if rng.gen_bool(0.5) { u } else { u.sqrt() };
            let created_at = from + ((to - from) as f64 * share) as i64;
            let expires_at = k.validity_days.map(|d| created_at + d * DAY_MS);
            let deleted_at = expires_at
                .filter(|e| *e + DAY_MS < now && rng.gen_bool(0.2))
                .map(|e| e + DAY_MS);
            let platform = pick(rng, &[720u32, 180, 100], |w| *w);
            let bound = rng.gen_range(0..1000) < k.bound;
            // One key in ten is sold and never used.
            let weight = if rng.gen_bool(0.1) {
                0.0
            } else {
                k.activity * (normal(rng)).exp()
            };
            Key {
                id: uuid::Uuid::now_v7().to_string().into(),
                kind,
                preset_id: k.preset_id.map(str::to_owned),
                name: format!("{}-{:05}", k.label, n + 1),
                created_at,
                expires_at,
                deleted_at,
                platform,
                group: bound.then_some(platform),
                weight,
            }
        })
        .collect()
}

struct Priced {
    price: tollgate::pricing::ModelPrice,
    json: String,
    fallback: bool,
}

/// A run of requests of one key on one account and one main model.
struct Session {
    platform: usize,
    account: Arc<str>,
    group: Option<Arc<str>>,
    model: usize,
}

pub struct Generator {
    rng: StdRng,
    pub keys: Vec<Key>,
    pool: Pool,
    prices: [Vec<Priced>; 3],
    spent: Vec<i64>,
    per_day: Vec<u64>,
    start: i64,
    now: i64,
    utc_offset_ms: i64,
}

impl Generator {
    /// `events` requests over the `days` days before `now`.
    pub fn new(
        rng: StdRng,
        keys: Vec<Key>,
        pool: Pool,
        events: u64,
        days: usize,
        now: i64,
        utc_offset_ms: i64,
    ) -> Generator {
        let pricing = Pricing::builtin();
        let prices = [0, 1, 2].map(|p| {
            MODELS[p]
                .iter()
                .map(|m| {
                    let lookup = pricing.lookup(m.name);
                    Priced {
                        price: lookup.price,
                        json: serde_json::to_string(&lookup.price).unwrap(),
                        fallback: lookup.source == PriceSource::Fallback,
                    }
                })
                .collect()
        });
        // Traffic doubles over the period; weekends are a fifth quieter.
        let shape: Vec<f64> = (0..days)
            .map(|d| {
                // Days since the epoch (a Thursday) to Monday = 0.
                let weekday = ((now - (days - d) as i64 * DAY_MS) / DAY_MS + 3) % 7;
                let weekend = if weekday >= 5 { 0.8 } else { 1.0 };
                (1.0 + d as f64 / days as f64) * weekend
            })
            .collect();
        let total: f64 = shape.iter().sum();
        let mut per_day: Vec<u64> = shape
            .iter()
            .map(|w| (events as f64 * w / total) as u64)
            .collect();
        let short = events - per_day.iter().sum::<u64>();
        if let Some(last) = per_day.last_mut() {
            *last += short;
        }
        let spent = vec![0; keys.len()];
        Generator {
            rng,
            keys,
            pool,
            prices,
            spent,
            per_day,
            start: now - days as i64 * DAY_MS,
            now,
            utc_offset_ms,
        }
    }

    pub fn days(&self) -> usize {
        self.per_day.len()
    }

    /// Checks the model list against the price table: every model but the two fallback ones
    /// has a price.
    pub fn fallback_models(&self) -> Vec<&'static str> {
        (0..3)
            .flat_map(|p| {
                MODELS[p]
                    .iter()
                    .zip(&self.prices[p])
                    .filter(|(_, priced)| priced.fallback)
                    .map(|(m, _)| m.name)
            })
            .collect()
    }

    /// The requests of day `d` (0 = the oldest), in time order.
    pub fn day(&mut self, d: usize) -> Vec<UsageEvent> {
        let (from, to) = (
            self.start + d as i64 * DAY_MS,
            (self.start + (d as i64 + 1) * DAY_MS).min(self.now),
        );
        let active: Vec<usize> = (0..self.keys.len())
            .filter(|&i| {
                let k = &self.keys[i];
                let quota = KINDS[k.kind].quota_micros;
                k.weight > 0.0
                    && k.created_at < to
                    && k.ends_at() > from
                    && (quota == 0 || self.spent[i] < quota)
            })
            .collect();
        if active.is_empty() {
            return Vec::new();
        }
        // How many requests each active key makes today.
        let mut cumulative = Vec::with_capacity(active.len());
        let mut sum = 0.0;
        for &i in &active {
            sum += self.keys[i].weight;
            cumulative.push(sum);
        }
        let mut counts = vec![0u32; active.len()];
        for _ in 0..self.per_day[d] {
            let r = self.rng.gen::<f64>() * sum;
            let slot = cumulative
                .partition_point(|c| *c <= r)
                .min(active.len() - 1);
            counts[slot] += 1;
        }
        let mut events = Vec::with_capacity(self.per_day[d] as usize);
        for (slot, &n) in counts.iter().enumerate() {
            if n > 0 {
                self.key_day(active[slot], n, from, to, &mut events);
            }
        }
        events.sort_by_key(|e| e.created_at);
        events
    }

    fn session(&mut self, key: usize) -> Session {
        let k = &self.keys[key];
        let platform = if self.rng.gen_bool(0.9) {
            k.platform
        } else {
            (k.platform + self.rng.gen_range(1..3)) % 3
        };
        let (account, group) = if k.group == Some(platform) {
            let members = &self.pool.group_members[platform];
            (
                members[self.rng.gen_range(0..members.len())].clone(),
                Some(self.pool.group_ids[platform].clone()),
            )
        } else {
            let shared = &self.pool.shared[platform];
            (shared[self.rng.gen_range(0..shared.len())].clone(), None)
        };
        let model = pick(&mut self.rng, MODELS[platform], |m| m.weight);
        Session {
            platform,
            account,
            group,
            model,
        }
    }

    fn key_day(&mut self, key: usize, n: u32, from: i64, to: i64, out: &mut Vec<UsageEvent>) {
        let (lo, hi) = {
            let k = &self.keys[key];
            (from.max(k.created_at), to.min(k.ends_at()))
        };
        if hi <= lo {
            return;
        }
        // A conversation sticks to the account that served it; a busy key has several a day.
        let sessions: Vec<Session> = (0..(1 + n / 40).min(6))
            .map(|_| self.session(key))
            .collect();
        for _ in 0..n {
            let s = &sessions[self.rng.gen_range(0..sessions.len())];
            let (platform, account, group) = (s.platform, s.account.clone(), s.group.clone());
            let model = if self.rng.gen_bool(0.25) {
                MODELS[platform]
                    .iter()
                    .position(|m| m.small)
                    .unwrap_or(s.model)
            } else {
                s.model
            };
            let created_at = self.instant(lo, hi);
            let e = self.event(key, platform, account, group, model, created_at);
            self.spent[key] += e.cost_micros;
            out.push(e);
        }
    }

    /// A moment in `[lo, hi)`, following the day's rhythm.
    fn instant(&mut self, lo: i64, hi: i64) -> i64 {
        let mut t = lo;
        for _ in 0..8 {
            t = self.rng.gen_range(lo..hi);
            let hour = ((t + self.utc_offset_ms).rem_euclid(DAY_MS) / HOUR_MS) as usize;
            if self.rng.gen_range(0..100) < DIURNAL[hour] {
                break;
            }
        }
        t
    }

    fn event(
        &mut self,
        key: usize,
        platform: usize,
        account: Arc<str>,
        group: Option<Arc<str>>,
        model: usize,
        created_at: i64,
    ) -> UsageEvent {
        let rng = &mut self.rng;
        let r: u32 = rng.gen_range(0..1000);
        // 3.5 % errors: upstream 429 / 529 / 5xx and client 400s answered by an account, and a
        // few 503s when no account could take the request.
        let (status, error_type, account) = match r {
            0..965 => (200u16, None, Some(account)),
            965..980 => (429, Some("rate_limit_error"), Some(account)),
            980..986 => (529, Some("overloaded_error"), Some(account)),
            986..991 => (502, Some("api_error"), Some(account)),
            991..997 => (400, Some("invalid_request_error"), Some(account)),
            _ => (503, Some("no_available_account"), None),
        };
        let stream = rng.gen_bool(0.8);
        let disconnected = status == 200 && rng.gen_bool(0.005);
        let usage = if status == 200 {
            tokens(rng, platform)
        } else {
            TokenUsage::default()
        };
        let priced = &self.prices[platform][model];
        let latency_ms = lognormal(rng, 6_000.0, 0.8, 600_000.0) as i64;
        UsageEvent {
            request_id: format!("{:032x}", rng.gen::<u128>()),
            key_id: self.keys[key].id.clone(),
            account_id: account,
            group_id: group,
            platform: PLATFORMS[platform].as_str(),
            model: MODELS[platform][model].name.to_owned(),
            cost_micros: cost_micros(&priced.price, &usage),
            usage,
            price: priced.json.clone(),
            priced_by_fallback: priced.fallback,
            status,
            error_type: error_type.map(str::to_owned),
            latency_ms,
            ttft_ms: stream.then(|| lognormal(rng, 1_200.0, 0.6, latency_ms as f64) as i64),
            stream,
            client_disconnected: disconnected,
            usage_estimated: false,
            created_at,
        }
    }
}

/// Billed tokens of one successful request on `platform`.
fn tokens(rng: &mut StdRng, platform: usize) -> TokenUsage {
    let mut u = TokenUsage::default();
    match platform {
        0 => {
            u.input = lognormal(rng, 800.0, 1.2, 200_000.0);
            u.output = lognormal(rng, 300.0, 1.1, 64_000.0);
            if rng.gen_bool(0.7) {
                u.cache_read = lognormal(rng, 30_000.0, 0.9, 200_000.0);
            }
            if rng.gen_bool(0.3) {
                u.cache_write_5m = lognormal(rng, 2_500.0, 1.0, 100_000.0);
            }
            if rng.gen_bool(0.03) {
                u.cache_write_1h = lognormal(rng, 8_000.0, 1.0, 100_000.0);
            }
        }
        1 => {
            u.input = lognormal(rng, 1_800.0, 1.1, 200_000.0);
            u.output = lognormal(rng, 450.0, 1.1, 64_000.0);
            if rng.gen_bool(0.45) {
                u.cache_read = lognormal(rng, 6_000.0, 1.0, 200_000.0);
            }
        }
        _ => {
            u.input = lognormal(rng, 2_500.0, 1.1, 500_000.0);
            u.output = lognormal(rng, 500.0, 1.0, 64_000.0);
            if rng.gen_bool(0.2) {
                u.cache_read = lognormal(rng, 8_000.0, 1.0, 500_000.0);
            }
        }
    }
    u
}
