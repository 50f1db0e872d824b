//! Every table of the dashboard, built one way so each fits its box: on a desktop, text cells
//! wrap while figures, pills and buttons stay whole; on a phone (`.data-table` in
//! style/main.css, below 600px) each row becomes a card, its first cell the card's title and
//! every other cell led by its column's name, which the cell carries in `data-label`.
//!
//! Rows are written by the caller (`<tr>`, `<td data-label=...>`), with the labels of the same
//! [`Column`]s that head the table, so a heading and its cards can't drift apart.

use leptos::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Figure,
    Actions,
}

/// A column: its heading and what its cells hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// The heading, and the label before the cell's content on a phone.
    pub label: &'static str,
    kind: Kind,
}

impl Column {
    /// Words: they wrap to fit.
    pub fn text(label: &'static str) -> Self {
        Column {
            label,
            kind: Kind::Text,
        }
    }

    /// Numbers and money (cells of class `num`): right-aligned, never broken.
    pub fn figure(label: &'static str) -> Self {
        Column {
            label,
            kind: Kind::Figure,
        }
    }

    /// The row's buttons (cells of class `actions`); the heading is for screen readers only.
    pub fn actions(label: &'static str) -> Self {
        Column {
            label,
            kind: Kind::Actions,
        }
    }
}

/// A table headed by `columns` whose rows are the children.
#[component]
pub fn DataTable(
    columns: Vec<Column>,
    #[prop(optional, into)] test_id: Option<String>,
    children: Children,
) -> impl IntoView {
    let heads = columns
        .into_iter()
        .map(|c| match c.kind {
            Kind::Text => view! { <th scope="col">{c.label}</th> }.into_any(),
            Kind::Figure => view! { <th scope="col" class="num">{c.label}</th> }.into_any(),
            Kind::Actions => view! {
                <th scope="col" class="actions"><span class="sr-only">{c.label}</span></th>
            }
            .into_any(),
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="data-table" data-testid=test_id>
                <thead>
                    <tr>{heads}</tr>
                </thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}
