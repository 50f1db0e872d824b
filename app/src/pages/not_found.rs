use leptos::prelude::*;
use leptos_router::components::A;

use crate::tr;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <div class="login-wrap">
            <div class="card">
                <h1>{tr("notfound.title")}</h1>
                <A href="/">{tr("notfound.back")}</A>
            </div>
        </div>
    }
}
