//! Upstream accounts' own rules, apart from storage and HTTP: what a valid account and account
//! group look like, and budgets (`budget`: the arithmetic; `budget_check`: a look at them all; `budget_watch`: when to look). The admin service (`admin::accounts`) puts them together with storage, the
//! credentials' encryption and the scheduler's snapshot.

pub mod budget;
pub mod budget_check;
pub mod budget_watch;
pub mod validate;
