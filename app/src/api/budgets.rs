//! Server functions of upstream account budgets: a top-up of a prepaid balance. Setting or
//! removing a budget is a field of `update_account`'s patch (`budget`).

use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::AdminError;
use crate::types::{Account, BudgetTopUp};

#[server(prefix = "/admin/fn", endpoint = "top_up_account_budget", input = Json)]
pub async fn top_up_account_budget(id: String, input: BudgetTopUp) -> Result<Account, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .top_up_budget(&actor, &id, input)
        .await
        .map_err(fail)
}
