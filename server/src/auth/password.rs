//! argon2id password hashing, always off the async runtime's worker threads, and never more
//! than a few at once: each hash takes 19 MiB and a core for tens of milliseconds.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;

/// Hashes a password with argon2id (default parameters: 19 MiB, 2 passes) on a blocking thread.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
    })
    .await?
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Every password verification of the request paths (login, password change) goes through one
/// of these: at most `permits` hashes run at once, and an attempt that cannot start within
/// `wait` is refused as busy instead of queueing more hashes behind the others.
pub struct PasswordChecks {
    permits: Arc<tokio::sync::Semaphore>,
    wait: Duration,
    started: AtomicU64,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

/// No hash could start in time; try again in a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Hashes running at once on the request paths.
pub const CONCURRENT_HASHES: usize = 2;
/// How long an attempt waits for a free hash slot before it is refused.
pub const HASH_WAIT: Duration = Duration::from_secs(5);

impl Default for PasswordChecks {
    fn default() -> Self {
        Self::new(CONCURRENT_HASHES, HASH_WAIT)
    }
}

impl PasswordChecks {
    pub fn new(permits: usize, wait: Duration) -> Self {
        PasswordChecks {
            permits: Arc::new(tokio::sync::Semaphore::new(permits)),
            wait,
            started: AtomicU64::new(0),
            running: Arc::new(AtomicUsize::new(0)),
            peak: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Verifies `password` against `hash`. The slot is held by the blocking thread itself, so a
    /// caller that goes away (client hung up) cannot free it while the hash still runs.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, Busy> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        self.started.fetch_add(1, Ordering::SeqCst);
        let (running, peak) = (self.running.clone(), self.peak.clone());
        tokio::task::spawn_blocking(move || {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let ok = verify_blocking(&password, &hash);
            running.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            ok
        })
        .await
        .map_err(|_| Busy)
    }

    /// Hashes started since the process began.
    pub fn started(&self) -> u64 {
        self.started.load(Ordering::SeqCst)
    }

    /// The most hashes that ever ran at the same time.
    pub fn peak_concurrency(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

/// A hash of a random password, used to spend the same time on unknown usernames.
pub fn dummy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Xb9nIOMJkRGuJVP3X0fWDTuyiGzWnLOjLbqrTfLxBgk"
}

/// A strong random password: 24 characters from an unambiguous alphabet (~137 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..24)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Longest password an admin can have; a longer one at login is wrong without a hash.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The rules for a new password.
pub fn validate_new_password(password: &str) -> Result<(), &'static str> {
    // The message names app::types::MIN_PASSWORD_CHARS (12).
    if password.chars().count() < app::types::MIN_PASSWORD_CHARS {
        return Err("must be at least 12 characters");
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err("must be at most 1024 bytes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let checks = PasswordChecks::default();
        let verify = |p: &str, h: &str| checks.verify(p.into(), h.into());
        let h = hash_password("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(verify("correct horse battery", &h).await, Ok(true));
        assert_eq!(verify("wrong", &h).await, Ok(false));
        assert_eq!(verify("x", "not a hash").await, Ok(false));
        assert_eq!(verify("x", dummy_hash()).await, Ok(false));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn at_most_the_permitted_hashes_run_at_once() {
        let checks = Arc::new(PasswordChecks::new(2, Duration::from_secs(60)));
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let (checks, hash) = (checks.clone(), hash.clone());
                tokio::spawn(async move {
                    let password = if i == 0 {
                        "correct horse battery"
                    } else {
                        "wrong"
                    };
                    checks.verify(password.into(), hash).await
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            if t.await.unwrap().unwrap() {
                ok += 1;
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(checks.started(), 6);
        assert!(
            checks.peak_concurrency() <= 2,
            "{}",
            checks.peak_concurrency()
        );
        // With no slot free and no time to wait, the check is refused as busy.
        let none = PasswordChecks::new(0, Duration::from_millis(10));
        assert_eq!(none.verify("x".into(), hash).await, Err(Busy));
    }

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let a = generate_password();
        assert_eq!(a.len(), 24);
        assert_ne!(a, generate_password());
        assert!(validate_new_password(&a).is_ok());
        assert!(validate_new_password("short").is_err());
    }
}
