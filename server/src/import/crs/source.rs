//! Reading a CRS Redis: a read-only snapshot of its accounts, groups, API keys and the usage
//! the import carries over. Only reads (`SCAN`, `TYPE`, `HGETALL`, `GET`, `SMEMBERS`, `LRANGE`);
//! nothing is ever written to the source. The snapshot is not atomic across keys, which is why
//! the migration guide says to stop CRS (or put it in maintenance) first.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{anyhow, Context};
use redis::aio::MultiplexedConnection;

/// One hash of fields, as CRS stores everything (strings, JSON in strings).
pub type Fields = HashMap<String, String>;

/// The account kinds CRS 1.1.x keeps, by Redis key prefix.
pub const ACCOUNT_SOURCES: &[(&str, &str)] = &[
    ("claude-console", "claude_console_account:"),
    ("openai-responses", "openai_responses_account:"),
    ("gemini-api", "gemini_api_account:"),
    ("azure-openai", "azure_openai:account:"),
    ("claude", "claude:account:"),
    ("gemini", "gemini_account:"),
    ("openai", "openai:account:"),
    ("droid", "droid:account:"),
    ("bedrock", "bedrock:account:"),
    ("ccr", "ccr_account:"),
];

#[derive(Clone, Debug)]
pub struct CrsAccount {
    /// CRS's platform name, e.g. `claude-console`.
    pub source_type: &'static str,
    pub id: String,
    pub fields: Fields,
}

#[derive(Clone, Debug)]
pub struct CrsGroup {
    pub id: String,
    pub fields: Fields,
    pub members: Vec<String>,
}

/// One day of one model's usage of a key (`usage:<key>:model:daily:<model>:<day>`).
#[derive(Clone, Debug)]
pub struct CrsDailyUsage {
    pub day: String,
    pub model: String,
    pub fields: Fields,
}

#[derive(Clone, Debug, Default)]
pub struct CrsKey {
    pub id: String,
    pub fields: Fields,
    /// `usage:cost:total:<id>`: USD, as a decimal string.
    pub cost_total: Option<String>,
    /// `usage:<id>`: lifetime counters.
    pub totals: Fields,
    pub daily: Vec<CrsDailyUsage>,
    /// `usage:cost:daily:<id>:<day>`, for CRS versions whose model rows carry no cost.
    pub daily_cost: BTreeMap<String, String>,
    /// `usage:records:<id>`: JSON request records, newest first, as far as CRS kept them.
    pub records: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct CrsData {
    pub version: Option<String>,
    pub accounts: Vec<CrsAccount>,
    pub groups: Vec<CrsGroup>,
    pub keys: Vec<CrsKey>,
    /// `apikey:hash_map`: hash → key id.
    pub hash_map: HashMap<String, String>,
    /// `claude_relay_config`: global settings (the concurrency queue lives here).
    pub relay_config: serde_json::Value,
}

/// The URL as shown in reports: scheme, host, port and database, never the password.
pub fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        Err(_) => "(invalid URL)".into(),
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const SCAN_COUNT: usize = 1000;

struct Reader {
    con: MultiplexedConnection,
}

impl Reader {
    async fn scan(&mut self, pattern: &str) -> anyhow::Result<Vec<String>> {
        let mut cursor: u64 = 0;
        let mut out = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(&mut self.con)
                .await
                .with_context(|| format!("SCAN {pattern}"))?;
            out.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn key_type(&mut self, key: &str) -> anyhow::Result<String> {
        Ok(redis::cmd("TYPE")
            .arg(key)
            .query_async(&mut self.con)
            .await?)
    }

    async fn hash(&mut self, key: &str) -> anyhow::Result<Fields> {
        redis::cmd("HGETALL")
            .arg(key)
            .query_async(&mut self.con)
            .await
            .with_context(|| format!("HGETALL {key}"))
    }

    async fn string(&mut self, key: &str) -> anyhow::Result<Option<String>> {
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut self.con)
            .await
            .with_context(|| format!("GET {key}"))
    }

    async fn members(&mut self, key: &str) -> anyhow::Result<Vec<String>> {
        let mut m: Vec<String> = redis::cmd("SMEMBERS")
            .arg(key)
            .query_async(&mut self.con)
            .await
            .with_context(|| format!("SMEMBERS {key}"))?;
        m.sort();
        Ok(m)
    }

    async fn list(&mut self, key: &str) -> anyhow::Result<Vec<String>> {
        redis::cmd("LRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .query_async(&mut self.con)
            .await
            .with_context(|| format!("LRANGE {key}"))
    }

    /// Every hash named `<prefix><id>` (ids without further `:` parts, so indexes and markers
    /// such as `<prefix>index` sets are left out).
    async fn hashes_under(&mut self, prefix: &str) -> anyhow::Result<Vec<(String, Fields)>> {
        let mut out = Vec::new();
        for key in self.scan(&format!("{}*", glob_escape(prefix))).await? {
            let id = &key[prefix.len()..];
            if id.is_empty() || id.contains(':') || self.key_type(&key).await? != "hash" {
                continue;
            }
            let fields = self.hash(&key).await?;
            if !fields.is_empty() {
                out.push((id.to_owned(), fields));
            }
        }
        Ok(out)
    }
}

/// Escapes Redis glob characters in a literal prefix.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Connects and reads everything the import needs.
pub async fn read(url: &str) -> anyhow::Result<CrsData> {
    let client = redis::Client::open(url).map_err(|e| anyhow!("invalid Redis URL: {e}"))?;
    let con = tokio::time::timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection())
        .await
        .map_err(|_| anyhow!("no answer from Redis at {} within 10 s", redacted_url(url)))?
        .with_context(|| format!("connecting to Redis at {}", redacted_url(url)))?;
    let mut r = Reader { con };
    let mut data = CrsData {
        version: r.string("system:migrated:version").await?,
        ..Default::default()
    };
    let looks_like_crs = !r.scan("apikey:*").await?.is_empty()
        || data.version.is_some()
        || !r.scan("claude_relay_config").await?.is_empty();
    if !looks_like_crs {
        anyhow::bail!(
            "{} holds no claude-relay-service data (no apikey:* keys, no system:migrated:version); check the URL and its database number",
            redacted_url(url)
        );
    }
    for (source_type, prefix) in ACCOUNT_SOURCES {
        for (id, fields) in r.hashes_under(prefix).await? {
            data.accounts.push(CrsAccount {
                source_type,
                id,
                fields,
            });
        }
    }
    for (id, fields) in r.hashes_under("account_group:").await? {
        let members = r.members(&format!("account_group_members:{id}")).await?;
        data.groups.push(CrsGroup {
            id,
            fields,
            members,
        });
    }
    data.hash_map = r.hash("apikey:hash_map").await?;
    data.relay_config = match r.string("claude_relay_config").await? {
        Some(text) => serde_json::from_str(&text).unwrap_or_default(),
        None => serde_json::Value::Null,
    };
    read_keys(&mut r, &mut data).await?;
    Ok(data)
}

async fn read_keys(r: &mut Reader, data: &mut CrsData) -> anyhow::Result<()> {
    let mut keys: BTreeMap<String, CrsKey> = BTreeMap::new();
    for (id, fields) in r.hashes_under("apikey:").await? {
        if id == "hash_map" {
            continue;
        }
        keys.insert(
            id.clone(),
            CrsKey {
                id,
                fields,
                ..Default::default()
            },
        );
    }
    for (id, key) in keys.iter_mut() {
        key.cost_total = r.string(&format!("usage:cost:total:{id}")).await?;
        key.totals = r.hash(&format!("usage:{id}")).await?;
        key.records = r.list(&format!("usage:records:{id}")).await?;
    }
    // One pass each over every key's daily rows (a SCAN per key would walk the whole keyspace
    // once per key): `usage:cost:daily:<key>:<day>` ...
    for name in r.scan("usage:cost:daily:*").await? {
        let Some((key_id, day)) = name["usage:cost:daily:".len()..].split_once(':') else {
            continue;
        };
        let Some(key) = keys.get_mut(key_id) else {
            continue;
        };
        if r.key_type(&name).await? != "string" {
            continue;
        }
        if let Some(cost) = r.string(&name).await? {
            key.daily_cost.insert(day.to_owned(), cost);
        }
    }
    // ... and `usage:<key>:model:daily:<model>:<day>`.
    for name in r.scan("usage:*:model:daily:*").await? {
        let Some(rest) = name.strip_prefix("usage:") else {
            continue;
        };
        let Some((key_id, tail)) = rest.split_once(":model:daily:") else {
            continue;
        };
        // The day is the last part; model names may contain ':' themselves.
        let Some((model, day)) = tail.rsplit_once(':') else {
            continue;
        };
        let Some(key) = keys.get_mut(key_id) else {
            continue;
        };
        if r.key_type(&name).await? != "hash" {
            continue;
        }
        key.daily.push(CrsDailyUsage {
            day: day.to_owned(),
            model: model.to_owned(),
            fields: r.hash(&name).await?,
        });
    }
    data.keys = keys.into_values().collect();
    Ok(())
}
