//! The subcommands other than `serve`.

pub mod accounts;
mod budgets;
mod command;
pub mod import;
pub mod keys;
pub mod usage;

pub use command::{AdminCommand, Cli, Command};

use crate::config::CommonOpts;
use crate::storage::Store;

async fn open(common: &CommonOpts) -> anyhow::Result<Store> {
    let store = Store::connect(&common.database_url_or_default()).await?;
    store.migrate().await?;
    Ok(store)
}

pub async fn migrate(common: &CommonOpts) -> anyhow::Result<()> {
    let store = open(common).await?;
    println!("migrations applied ({})", store.backend());
    store.close().await;
    Ok(())
}

pub async fn admin(common: &CommonOpts, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::ResetPassword { username, password } => {
            let store = open(common).await?;
            let generated = crate::admin::auth::reset_password(
                &store,
                &username,
                password.as_ref().map(|p| p.expose().as_str()),
            )
            .await?;
            match generated {
                Some(p) => println!("password for {username} reset to: {p}"),
                None => println!("password for {username} updated"),
            }
            println!("all sessions and API tokens of {username} were ended");
            store.close().await;
            Ok(())
        }
    }
}
