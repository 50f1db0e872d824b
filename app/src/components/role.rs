//! The signed-in user, shared by the frame with its pages, so a page shows only the controls the
//! role may use: viewers read, they change nothing. A convenience only: the admin service
//! refuses what a role may not do, whatever the page shows.
//!
//! Inside a `Suspense`, read these in a plain closure (`move || is_admin.get().then(..)`), not
//! through `<Show when=..>`: `Show` keeps its condition in a memo, and on the server a memo
//! computed while the frame's `Me` resource resolves on another worker thread can lose the
//! change and keep "no", while the page ships the resolved role to the browser, which then
//! hydrates a button the server did not render and stops (seen on `/accounts` in the browser
//! tests). A closure is run again when the Suspense resolves, with the role the page ships.

use leptos::prelude::*;

use crate::error::AdminError;
use crate::types::{AdminInfo, Role};

/// The frame's `current_admin` resource, provided to every page.
#[derive(Clone, Copy)]
pub struct Me(pub Resource<Result<AdminInfo, AdminError>>);

/// The signed-in user's role once known (`None` while loading, or outside the frame).
pub fn use_role() -> Signal<Option<Role>> {
    let me = use_context::<Me>();
    Signal::derive(move || {
        me.and_then(|Me(r)| r.get())
            .and_then(|r| r.ok())
            .map(|m| m.role)
    })
}

/// True once the role is known and may change things (admins, sellers); false for viewers
/// and while loading, so a viewer never sees a write button appear and vanish.
pub fn use_can_change() -> Signal<bool> {
    let role = use_role();
    Signal::derive(move || role.get().is_some_and(|r| r != Role::Viewer))
}

/// Admins only (accounts, groups, settings).
pub fn use_is_admin() -> Signal<bool> {
    let role = use_role();
    Signal::derive(move || role.get() == Some(Role::Admin))
}
