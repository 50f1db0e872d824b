//! The encrypted columns, and the start-up step that rewrites values of the earlier, unbound
//! format (`v1:`) in the current one (`v2:`, bound to table, column and row; see `crypto`).

use crate::crypto::{Binding, Cipher};

use super::{with_pool, Store};

/// A column holding ciphertexts, and the binding of its values.
struct EncryptedColumn {
    table: &'static str,
    column: &'static str,
    binding: for<'a> fn(&'a str) -> Binding<'a>,
}

/// Every column that holds a ciphertext; each table's key column is `id`.
const ENCRYPTED_COLUMNS: &[EncryptedColumn] = &[
    EncryptedColumn {
        table: "accounts",
        column: "api_key_enc",
        binding: Binding::account_api_key,
    },
    EncryptedColumn {
        table: "accounts",
        column: "proxy_enc",
        binding: Binding::account_proxy,
    },
    EncryptedColumn {
        table: "webhook_targets",
        column: "url_enc",
        binding: Binding::webhook_url,
    },
    EncryptedColumn {
        table: "webhook_targets",
        column: "secret_enc",
        binding: Binding::webhook_secret,
    },
    EncryptedColumn {
        table: "legacy_key_salts",
        column: "salt_enc",
        binding: Binding::legacy_key_salt,
    },
];

impl Store {
    /// Re-encrypts every `v1:` value as `v2:` in one transaction, each update conditional on
    /// the value still being the one read (another instance may be doing the same). A value that
    /// does not decrypt is left as it is and logged: the account or target using it shows the
    /// error as before. Returns how many values were rewritten.
    #[tracing::instrument(skip_all)]
    pub async fn upgrade_ciphertexts(&self, cipher: &Cipher) -> anyhow::Result<u64> {
        let rewritten = with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut rewritten = 0u64;
            for c in ENCRYPTED_COLUMNS {
                let (table, column) = (c.table, c.column);
                let select = format!("SELECT id, {column} FROM {table} WHERE {column} LIKE 'v1:%'");
                let rows: Vec<(String, String)> =
                    sqlx::query_as(&select).fetch_all(&mut *tx).await?;
                let update =
                    format!("UPDATE {table} SET {column} = $1 WHERE id = $2 AND {column} = $3");
                for (id, old) in rows {
                    let binding = (c.binding)(&id);
                    match cipher.decrypt(binding, &old) {
                        Ok(plain) => {
                            let new = cipher.encrypt(binding, plain.expose());
                            rewritten += sqlx::query(&update)
                                .bind(&new)
                                .bind(&id)
                                .bind(&old)
                                .execute(&mut *tx)
                                .await?
                                .rows_affected();
                        }
                        Err(e) => {
                            tracing::error!(%table, %column, %id, error = %e, "cannot re-encrypt a stored value; left as it is");
                        }
                    }
                }
            }
            tx.commit().await?;
            rewritten
        });
        if rewritten > 0 {
            tracing::info!(
                rewritten,
                "stored credentials re-encrypted in the row-bound format"
            );
        }
        Ok(rewritten)
    }
}
