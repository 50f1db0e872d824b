//! Feedback for actions: toasts that confirm or report failure, and a two-step button for
//! destructive actions.

use std::time::Duration;

use leptos::prelude::*;

use crate::error::AdminError;
use crate::i18n::error_text;
use crate::{tr, use_locale};

/// How long a toast stays.
const TOAST_MS: u64 = 5_000;

#[derive(Clone, Debug, PartialEq)]
struct Toast {
    id: u64,
    text: String,
    error: bool,
}

/// The toasts of the page, in context; see [`use_toasts`].
#[derive(Clone, Copy)]
pub struct Toasts {
    list: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
    /// Kept here because actions finish outside the component tree, where there is no context.
    locale: crate::i18n::Locale,
}

impl Toasts {
    fn push(&self, text: String, error: bool) {
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.list.update(|l| l.push(Toast { id, text, error }));
        let list = self.list;
        set_timeout(
            move || list.update(|l| l.retain(|t| t.id != id)),
            Duration::from_millis(TOAST_MS),
        );
    }

    /// A success message.
    pub fn ok(&self, text: impl Into<String>) {
        self.push(text.into(), false);
    }

    /// A failure, in the user's language.
    pub fn error(&self, err: &AdminError) {
        self.push(error_text(self.locale, err), true);
    }

    /// A failure described by a text key.
    pub fn error_text(&self, text: impl Into<String>) {
        self.push(text.into(), true);
    }

    /// Reports the outcome of an action: the success text, or the error.
    pub fn outcome<T>(&self, result: &Result<T, AdminError>, success: &str) {
        match result {
            Ok(_) => self.ok(success),
            Err(e) => self.error(e),
        }
    }
}

/// Puts an empty toast list into the context; render [`ToastRegion`] once.
pub fn provide_toasts() -> Toasts {
    let toasts = Toasts {
        list: RwSignal::new(Vec::new()),
        next: StoredValue::new(0),
        locale: use_locale(),
    };
    provide_context(toasts);
    toasts
}

/// The page's toasts (a fresh, unattached list when none was provided).
pub fn use_toasts() -> Toasts {
    use_context::<Toasts>().unwrap_or_else(|| Toasts {
        list: RwSignal::new(Vec::new()),
        next: StoredValue::new(0),
        locale: use_locale(),
    })
}

/// Where toasts appear; announced to screen readers politely.
#[component]
pub fn ToastRegion() -> impl IntoView {
    let toasts = use_toasts();
    view! {
        <div class="toasts" role="status" aria-live="polite" data-testid="toasts">
            <For each=move || toasts.list.get() key=|t| t.id let:toast>
                <div class="toast" class:toast-error=toast.error>
                    {toast.text}
                </div>
            </For>
        </div>
    }
}

/// A button that asks "Sure?" inline before it runs `on_confirm`: the first click arms it,
/// the second (on the confirm button) acts; Cancel or Escape disarms.
#[component]
pub fn ConfirmButton(
    #[prop(into)] label: String,
    #[prop(into)] question: String,
    #[prop(into)] on_confirm: Callback<()>,
    #[prop(optional, into)] pending: Signal<bool>,
    #[prop(optional, into)] test_id: Option<String>,
) -> impl IntoView {
    let armed = RwSignal::new(false);
    let confirm_id = test_id.as_ref().map(|t| format!("{t}-confirm"));
    let label_again = label.clone();
    view! {
        <Show
            when=move || armed.get()
            fallback=move || {
                view! {
                    <button
                        type="button"
                        class="btn btn-small btn-danger-ghost"
                        data-testid=test_id.clone()
                        disabled=move || pending.get()
                        on:click=move |_| armed.set(true)
                    >
                        {label.clone()}
                    </button>
                }
            }
        >
            <span
                class="confirm"
                role="group"
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        armed.set(false);
                    }
                }
            >
                <span class="confirm-question">{question.clone()}</span>
                <button
                    type="button"
                    class="btn btn-small btn-danger"
                    data-testid=confirm_id.clone()
                    disabled=move || pending.get()
                    autofocus
                    on:click=move |_| {
                        armed.set(false);
                        on_confirm.run(());
                    }
                >
                    {label_again.clone()}
                </button>
                <button type="button" class="btn btn-small" on:click=move |_| armed.set(false)>
                    {tr("common.cancel")}
                </button>
            </span>
        </Show>
    }
}

/// A message for a list with nothing in it, with what to do about it.
#[component]
pub fn EmptyState(
    #[prop(into)] text: String,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="empty" data-testid="empty">
            <p>{text}</p>
            {children.map(|c| c())}
        </div>
    }
}

/// The text of a pending-aware submit button.
pub fn busy_label(pending: bool, idle: &'static str) -> &'static str {
    if pending {
        tr("common.working")
    } else {
        tr(idle)
    }
}
