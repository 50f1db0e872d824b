//! The CRS 1.1.314 fixture in a Redis database of its own: loaded with the fixture's own
//! `load_redis.py`, then pointed at this test's mock upstream and proxy.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

/// The fixture CRS's ENCRYPTION_KEY (test data, from its README).
pub const CRS_KEY: &str = "CRSfixtureEncKey-1.1.314-test-01";

pub const CONSOLE_A_ID: &str = "f9227fba-bb82-4aad-9ef5-fea98ccafd50";
pub const CONSOLE_B_ID: &str = "ed5b4158-7c89-4193-bdf5-cee027118532";
pub const RESPONSES_ID: &str = "de7e4eb8-f523-4bb5-9420-3f6e79578361";
pub const GEMINI_ID: &str = "ed420ea7-f7ba-474e-8285-9844d6cdf454";

/// A fixture key as its README describes it.
pub struct FixtureKey {
    pub id: &'static str,
    pub name: &'static str,
    pub plaintext: &'static str,
    pub disabled: bool,
    expires: Option<&'static str>,
    /// USD: CRS's `usage:cost:total`, `totalCostLimit`, `dailyCostLimit`.
    pub spent: f64,
    pub quota: f64,
    pub daily_limit: f64,
    pub concurrency: u64,
}

impl FixtureKey {
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires
            .map(|t| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc))
    }
}

pub const KEYS: [FixtureKey; 5] = [
    FixtureKey {
        id: "d7acca81-b970-48e6-8048-3f29bbfd5b59",
        name: "20刀体验_A1001",
        plaintext: "cr_5712f6b4d36154e3e37803d8ad7b7ea977fbe88d1410a7fffddc70b4833e170b",
        disabled: false,
        expires: Some("2026-12-13T07:20:22.000Z"),
        spent: 0.001209,
        quota: 20.0,
        daily_limit: 0.0,
        concurrency: 3,
    },
    FixtureKey {
        id: "85aa0610-2043-416b-b671-3508ca4a1827",
        name: "企业客户_001",
        plaintext: "cr_f1efc8dd80f5b8da54dac34dda3f76ded3a01ce1d0f0f414473ae89e475e7027",
        disabled: false,
        expires: Some("2027-12-06T07:20:22.000Z"),
        spent: 0.00081,
        quota: 0.0,
        daily_limit: 100.0,
        concurrency: 10,
    },
    FixtureKey {
        id: "8d69264d-fa11-47e7-bcdc-83badbd8add6",
        name: "20刀体验_G2001",
        plaintext: "cr_fdceb8afc7c2f9055b117843ebd7d8b3fa06736c15c5db6a0f421588df282cf2",
        disabled: false,
        expires: Some("2026-12-13T07:20:22.000Z"),
        spent: 0.00081,
        quota: 20.0,
        daily_limit: 0.0,
        concurrency: 3,
    },
    FixtureKey {
        id: "0f85faf6-b5ee-4796-acf3-4c2aa7dabe9c",
        name: "已停用_D3001",
        plaintext: "cr_896592862e82fd526e51500565fe04d9239c3767e1c0ddcf4d4ff0010ad626e1",
        disabled: true,
        expires: Some("2026-12-13T07:20:22.000Z"),
        spent: 0.0,
        quota: 20.0,
        daily_limit: 0.0,
        concurrency: 3,
    },
    FixtureKey {
        id: "492b598b-2580-4f06-87b2-d4a2a4a3e278",
        name: "受限_M4001",
        plaintext: "cr_2dcfe263205f89545fd6e98d21620fe4daccc6a0325ab1e56c5052e8037925bb",
        disabled: false,
        // Activated by its first (refused) request: 30 days from then.
        expires: Some("2027-01-05T07:20:25.299Z"),
        spent: 0.0,
        quota: 0.0,
        daily_limit: 5.0,
        concurrency: 0,
    },
];

/// Where the fixture is: `CRS_FIXTURE_DIR`, or `shared/` beside the checkout (CI, the main
/// checkout) or beside its parent (a worktree under `wt/`).
fn fixture_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CRS_FIXTURE_DIR") {
        return PathBuf::from(dir);
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    for up in ["..", "../.."] {
        let dir = repo.join(up).join("shared/fixtures/crs-1.1.314");
        if dir.join("load_redis.py").exists() {
            return dir;
        }
    }
    panic!("the CRS fixture (shared/fixtures/crs-1.1.314) was not found; set CRS_FIXTURE_DIR");
}

pub struct Fixture {
    pub url: String,
    con: redis::aio::MultiplexedConnection,
}

impl Fixture {
    /// Loads the dump into database `db` of the Redis on 127.0.0.1:6379 (flushing it first).
    pub async fn load(db: u32) -> Fixture {
        let dir = fixture_dir();
        let out = std::process::Command::new("python3")
            .arg(dir.join("load_redis.py"))
            .args(["--port", "6379", "--db", &db.to_string(), "--flush"])
            .arg(dir.join("redis-dump.json"))
            .output()
            .expect("python3 runs the fixture's load_redis.py");
        assert!(
            out.status.success(),
            "load_redis.py failed (is Redis running on 127.0.0.1:6379?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = format!("redis://127.0.0.1:6379/{db}");
        let con = redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        Fixture { url, con }
    }

    pub async fn set(&self, key: &str, value: &str) {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query_async(&mut self.con.clone())
            .await
            .unwrap();
    }

    pub async fn hset(&self, key: &str, pairs: &[(&str, &str)]) {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(key);
        for (f, v) in pairs {
            cmd.arg(*f).arg(*v);
        }
        let _: () = cmd.query_async(&mut self.con.clone()).await.unwrap();
    }

    /// The fixture's upstream was a mock on 127.0.0.1:18081 behind a proxy on :18082; this
    /// test's mock and proxy listen elsewhere. Only the addresses change.
    pub async fn point_accounts_at(&self, mock: &str, proxy_port: u16) {
        let a = format!("claude_console_account:{CONSOLE_A_ID}");
        self.hset(&a, &[("apiUrl", mock)]).await;
        let proxy = format!(
            r#"{{"type":"http","host":"127.0.0.1","port":{proxy_port},"username":"fxproxy","password":"fxproxy-pass"}}"#
        );
        let b = format!("claude_console_account:{CONSOLE_B_ID}");
        let b_url = format!("{mock}/");
        self.hset(&b, &[("apiUrl", b_url.as_str()), ("proxy", proxy.as_str())])
            .await;
        let responses = format!("{mock}/v1");
        self.hset(
            &format!("openai_responses_account:{RESPONSES_ID}"),
            &[("baseApi", responses.as_str())],
        )
        .await;
        self.hset(
            &format!("gemini_api_account:{GEMINI_ID}"),
            &[("baseUrl", mock)],
        )
        .await;
    }

    /// Adds the subscription-OAuth accounts the fixture lacks (Claude.ai, Gemini, ChatGPT),
    /// and binds the restricted key to the Claude one. Returns their ids.
    pub async fn add_oauth_accounts(&self) -> Vec<String> {
        let ids = [
            ("claude:account:", "Claude Max OAuth", "claude"),
            ("gemini_account:", "Gemini OAuth", "gemini"),
            ("openai:account:", "ChatGPT OAuth", "openai"),
        ];
        let mut out = Vec::new();
        for (prefix, name, platform) in ids {
            let id = uuid::Uuid::new_v4().to_string();
            self.hset(
                &format!("{prefix}{id}"),
                &[
                    ("id", id.as_str()),
                    ("name", name),
                    ("platform", platform),
                    ("accountType", "shared"),
                    ("isActive", "true"),
                    ("accessToken", "00112233445566778899aabbccddeeff:00"),
                ],
            )
            .await;
            out.push(id);
        }
        self.hset(
            &format!("apikey:{}", KEYS[4].id),
            &[("claudeAccountId", out[0].as_str())],
        )
        .await;
        out
    }

    pub async fn drop_db(&self) {
        let _: () = redis::cmd("FLUSHDB")
            .query_async(&mut self.con.clone())
            .await
            .unwrap();
    }
}
