//! The optional second factor: RFC 6238 codes (totp-rs; SHA-1, 6 digits, 30 s, one step of
//! skew, what authenticator apps expect) with ten single-use recovery codes. The secret is
//! stored encrypted with `ENCRYPTION_KEY`, bound to the user's row; recovery codes only as
//! SHA-256 hashes. Setting up stores a pending secret that becomes active once a code from it
//! is confirmed.

use app::error::AdminError;
use app::port::Actor;
use app::types::{TotpEnabled, TotpSetup};
use rand::Rng;
use totp_rs::{Algorithm, Secret, TOTP};

use super::audit;
use super::error::internal;
use super::AdminService;
use crate::auth::password::Busy;
use crate::crypto::{token_hash, Binding};
use crate::storage::admins::AdminRow;

const ISSUER: &str = "Tollgate";
const RECOVERY_CODES: usize = 10;

fn totp_for(secret: Vec<u8>, account: &str) -> Result<TOTP, AdminError> {
    // The otpauth label may not contain ':'.
    let account = account.replace(':', "_");
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        Some(ISSUER.into()),
        account,
    )
    .map_err(|e| {
        tracing::error!(error = %e, "building a TOTP failed");
        AdminError::Internal
    })
}

/// A recovery code as typed: lower case, without blanks and dashes.
fn normalize_recovery(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let s: String = (0..10)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect();
            format!("{}-{}", &s[..5], &s[5..])
        })
        .collect()
}

/// The time step (unix time / step length) within the allowed skew whose code is `code`.
/// Compared in constant time.
fn matching_step(totp: &TOTP, code: &str, now: u64) -> Option<i64> {
    let step = now / totp.step;
    let skew = u64::from(totp.skew);
    (step.saturating_sub(skew)..=step + skew)
        .find(|s| same_bytes(totp.generate(s * totp.step).as_bytes(), code.as_bytes()))
        .and_then(|s| i64::try_from(s).ok())
}

fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The SVG QR code of `text`.
fn qr_svg(text: &str) -> Result<String, AdminError> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| {
        tracing::error!(error = %e, "QR code failed");
        AdminError::Internal
    })?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

impl AdminService {
    fn totp_of(&self, row: &AdminRow) -> Result<Option<TOTP>, AdminError> {
        let Some(stored) = &row.totp_secret_enc else {
            return Ok(None);
        };
        let secret = self
            .cipher
            .decrypt(Binding::user_totp(&row.id), stored)
            .map_err(|e| {
                tracing::error!(error = %e, user = %row.username, "TOTP secret does not decrypt");
                AdminError::Internal
            })?;
        let bytes = Secret::Encoded(secret.expose().clone())
            .to_bytes()
            .map_err(|_| AdminError::Internal)?;
        totp_for(bytes, &row.username).map(Some)
    }

    fn now_secs(&self) -> u64 {
        (self.auth.clock.now_ms().max(0) / 1000) as u64
    }

    /// After a right password: Ok when the user has no second factor or `code` is a current
    /// TOTP code or an unused recovery code (which is used up); `TotpRequired` without a code;
    /// `BadCredentials` for a wrong one.
    pub(crate) async fn check_second_factor(
        &self,
        row: &AdminRow,
        code: Option<&str>,
    ) -> Result<(), AdminError> {
        if !row.totp_enabled {
            return Ok(());
        }
        let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
            return Err(AdminError::TotpRequired);
        };
        let totp = self.totp_of(row)?.ok_or(AdminError::Internal)?;
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit()) {
            let Some(step) = matching_step(&totp, &digits, self.now_secs()) else {
                return Err(AdminError::BadCredentials);
            };
            // Only a step later than the last one accepted: a code works once, also when two
            // instances share the database (one conditional UPDATE decides).
            return if self
                .store
                .take_totp_step(&row.id, step)
                .await
                .map_err(internal)?
            {
                Ok(())
            } else {
                tracing::warn!(user = %row.username, "a TOTP code was presented again");
                Err(AdminError::BadCredentials)
            };
        }
        let hash = token_hash(&normalize_recovery(code));
        let mut codes: Vec<String> = serde_json::from_str(&row.recovery_codes).unwrap_or_default();
        let Some(at) = codes.iter().position(|c| *c == hash) else {
            return Err(AdminError::BadCredentials);
        };
        codes.remove(at);
        let after = serde_json::to_string(&codes).unwrap_or_else(|_| "[]".into());
        if self
            .store
            .take_recovery_code(&row.id, &row.recovery_codes, &after)
            .await
            .map_err(internal)?
        {
            tracing::warn!(user = %row.username, left = codes.len(), "signed in with a recovery code");
            Ok(())
        } else {
            Err(AdminError::BadCredentials)
        }
    }

    pub(crate) async fn totp_begin(&self, actor: &Actor) -> Result<TotpSetup, AdminError> {
        let row = self.user_row_of(actor).await?;
        if row.totp_enabled {
            return Err(AdminError::conflict(
                "the second factor is on; turn it off first to set up a new one",
            ));
        }
        let mut bytes = vec![0u8; 20];
        rand::thread_rng().fill(&mut bytes[..]);
        let totp = totp_for(bytes, &row.username)?;
        let secret = totp.get_secret_base32();
        let stored = self.cipher.encrypt(Binding::user_totp(&row.id), &secret);
        self.store
            .set_user_totp(&row.id, Some(&stored), false, "[]", None, None)
            .await
            .map_err(internal)?;
        let url = totp.get_url();
        Ok(TotpSetup {
            qr_svg: qr_svg(&url)?,
            otpauth_url: url,
            secret,
        })
    }

    pub(crate) async fn totp_confirm(
        &self,
        actor: &Actor,
        code: &str,
    ) -> Result<TotpEnabled, AdminError> {
        let row = self.user_row_of(actor).await?;
        if row.totp_enabled {
            return Err(AdminError::conflict("the second factor is on already"));
        }
        let totp = self.totp_of(&row)?.ok_or_else(|| {
            AdminError::validation("code", "start the set-up first (no pending secret)")
        })?;
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let Some(step) = matching_step(&totp, &code, self.now_secs()) else {
            return Err(AdminError::validation(
                "code",
                "the code does not match; check the phone's clock and try the next one",
            ));
        };
        let codes = new_recovery_codes();
        let hashes: Vec<String> = codes
            .iter()
            .map(|c| token_hash(&normalize_recovery(c)))
            .collect();
        let event = audit::row(
            actor,
            "totp.enable",
            "user",
            &row.id,
            &row.username,
            serde_json::json!({ "totp": "changed" }),
        );
        self.store
            .set_user_totp(
                &row.id,
                row.totp_secret_enc.as_deref(),
                true,
                &serde_json::to_string(&hashes).unwrap_or_else(|_| "[]".into()),
                Some(step),
                Some(&event),
            )
            .await
            .map_err(internal)?;
        tracing::info!(user = %row.username, "second factor turned on");
        Ok(TotpEnabled {
            recovery_codes: codes,
        })
    }

    pub(crate) async fn totp_disable(
        &self,
        actor: &Actor,
        password: &str,
    ) -> Result<(), AdminError> {
        let row = self.user_row_of(actor).await?;
        let ok = self
            .auth
            .passwords
            .verify(password.to_owned(), row.password_hash.clone())
            .await
            .map_err(|Busy| AdminError::Throttled { retry_after: 1 })?;
        if !ok {
            return Err(AdminError::validation("password", "the password is wrong"));
        }
        self.totp_may_be_turned_off(actor.role).await?;
        let event = audit::row(
            actor,
            "totp.disable",
            "user",
            &row.id,
            &row.username,
            serde_json::json!({ "totp": "changed" }),
        );
        self.store
            .set_user_totp(&row.id, None, false, "[]", None, Some(&event))
            .await
            .map_err(internal)?;
        tracing::info!(user = %row.username, "second factor turned off");
        Ok(())
    }

    async fn user_row_of(&self, actor: &Actor) -> Result<AdminRow, AdminError> {
        self.store
            .admin_by_id(&actor.id)
            .await
            .map_err(internal)?
            .ok_or(AdminError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_distinct_and_normalize() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), RECOVERY_CODES);
        let c = &codes[0];
        assert_eq!(normalize_recovery(&c.to_uppercase()), normalize_recovery(c));
        assert_eq!(normalize_recovery(c).len(), 10);
    }

    #[test]
    fn qr_code_is_svg() {
        let svg = qr_svg("otpauth://totp/Tollgate:a?secret=ABC&issuer=Tollgate").unwrap();
        assert!(svg.contains("<svg"));
    }
}
