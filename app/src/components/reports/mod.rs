//! The usage and margin page's sections.

pub mod margin;
pub mod sellers;
pub mod usage;

use leptos::prelude::*;

use crate::components::browser::{csv, download};
use crate::tr;

/// A button that downloads `rows` (header first) as `filename`.
#[component]
pub fn CsvButton(
    filename: String,
    rows: Vec<Vec<String>>,
    #[prop(optional, into)] test_id: Option<String>,
) -> impl IntoView {
    let text = csv(&rows);
    view! {
        <button type="button" class="btn btn-small" data-testid=test_id on:click=move |_| download(&filename, "text/csv", &text)>
            {tr("reports.export_csv")}
        </button>
    }
}

/// A number for CSV: plain, no grouping.
pub fn plain(v: f64) -> String {
    let rounded = (v * 1_000_000.0).round() / 1_000_000.0;
    rounded.to_string()
}
