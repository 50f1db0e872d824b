//! The budget part of `tollgate accounts check` (the seed's hourly balance check): every account
//! budget with what is spent, what is left and when it runs out at the last 7 days' rate;
//! budgets exhausted or running out within `--budget-within` make the command exit 1.

use app::types::BudgetAlert;
use chrono::{DateTime, Utc};

/// The table of budgets and how many of them are exhausted or run out within `within`.
pub fn report(
    alerts: &[BudgetAlert],
    now: DateTime<Utc>,
    within: chrono::Duration,
) -> (String, usize) {
    if alerts.is_empty() {
        return (String::new(), 0);
    }
    let mut out = String::from("BUDGETS\n");
    let mut failing = 0;
    for a in alerts {
        let b = &a.budget;
        let flag = if b.exhausted {
            "EXHAUSTED"
        } else if b.runs_out_within(now, within) {
            "LOW"
        } else {
            "ok"
        };
        if flag != "ok" {
            failing += 1;
        }
        let run_out = b
            .projected_run_out
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{}  {}  {}  spent ${:.2} of ${:.2}, ${:.2} left ({:.0}% used), runs out {}{}\n",
            a.account_name.replace(['\n', '\r', '\t'], " "),
            b.kind.as_str(),
            flag,
            b.spent_usd,
            b.amount_usd + b.top_ups_usd,
            b.remaining_usd,
            b.used * 100.0,
            run_out,
            if b.stopped { ", stopped" } else { "" },
        ));
    }
    out.push_str(&format!(
        "{} budgets: {failing} exhausted or running out within {}h\n",
        alerts.len(),
        within.num_hours()
    ));
    (out, failing)
}
