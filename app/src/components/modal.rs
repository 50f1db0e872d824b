//! A dialog over the page for forms: labelled by its title, focused when it opens, closed by
//! its button, the backdrop or Escape.

use leptos::prelude::*;

use crate::tr;

#[component]
pub fn Modal(
    #[prop(into)] title: String,
    #[prop(into)] on_close: Callback<()>,
    #[prop(optional, into)] test_id: Option<String>,
    #[prop(optional)] wide: bool,
    children: Children,
) -> impl IntoView {
    let title_id = format!(
        "modal-title-{}",
        title
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
    );
    let heading_id = title_id.clone();
    let dialog = NodeRef::<leptos::html::Div>::new();
    // Effects run in the browser only: take focus (so keyboard users land in the dialog) and
    // listen for Escape wherever focus is.
    Effect::new(move |_| {
        if let Some(el) = dialog.get() {
            let _ = el.focus();
        }
    });
    Effect::new(move |_| {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.key() == "Escape" {
                on_close.run(());
            }
        });
        on_cleanup(move || handle.remove());
    });
    view! {
        <div class="modal-backdrop" on:click=move |_| on_close.run(())></div>
        <div
            class="modal"
            class:modal-wide=wide
            role="dialog"
            aria-modal="true"
            tabindex="-1"
            node_ref=dialog
            aria-labelledby=title_id
            data-testid=test_id
        >
            <div class="modal-head">
                <h2 id=heading_id>{title}</h2>
                <button
                    type="button"
                    class="btn btn-ghost btn-small"
                    aria-label=tr("common.close")
                    on:click=move |_| on_close.run(())
                >
                    "✕"
                </button>
            </div>
            <div class="modal-body">{children()}</div>
        </div>
    }
}
