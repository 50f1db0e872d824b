pub mod accounts;
pub mod audit;
pub mod codes;
pub mod groups;
pub mod key_holder;
pub mod keys;
pub mod login;
pub mod my_account;
pub mod not_found;
pub mod overview;
pub mod redeem;
pub mod sales;
pub mod settings;
pub mod staff;
pub mod usage_report;

use crate::types::Role;

/// The dashboard's pages behind the sign-in, with the roles that may open each (the order of
/// the navigation). The server's auth layer sends anyone else to their home page; the admin
/// service refuses their server-function calls anyway.
pub const PAGES: &[(&str, &str, &[Role])] = &[
    ("/", "nav.overview", &[Role::Admin, Role::Viewer]),
    (
        "/keys",
        "nav.keys",
        &[Role::Admin, Role::Seller, Role::Viewer],
    ),
    (
        "/codes",
        "nav.codes",
        &[Role::Admin, Role::Seller, Role::Viewer],
    ),
    ("/accounts", "nav.accounts", &[Role::Admin, Role::Viewer]),
    ("/groups", "nav.groups", &[Role::Admin, Role::Viewer]),
    ("/usage-report", "nav.usage", &[Role::Admin, Role::Viewer]),
    (
        "/sales",
        "nav.sales",
        &[Role::Admin, Role::Seller, Role::Viewer],
    ),
    ("/users", "nav.users", &[Role::Admin]),
    ("/audit", "nav.audit", &[Role::Admin]),
    ("/settings", "nav.settings", &[Role::Admin]),
    (
        "/account",
        "nav.account",
        &[Role::Admin, Role::Seller, Role::Viewer],
    ),
];

/// Whether `role` may open the page at `path`; paths that are not pages (unknown ones render
/// the not-found page) are allowed.
pub fn page_allowed(role: Role, path: &str) -> bool {
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    PAGES
        .iter()
        .find(|(p, _, _)| *p == path)
        .is_none_or(|(_, _, roles)| roles.contains(&role))
}

/// Where a role lands after signing in (and when it opens a page it may not see).
pub fn home_of(role: Role) -> &'static str {
    match role {
        Role::Seller => "/keys",
        Role::Admin | Role::Viewer => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sellers_see_only_their_pages() {
        assert!(page_allowed(Role::Seller, "/keys"));
        assert!(page_allowed(Role::Seller, "/account"));
        assert!(page_allowed(Role::Seller, "/sales"));
        assert!(!page_allowed(Role::Seller, "/accounts"));
        assert!(!page_allowed(Role::Seller, "/accounts/"));
        assert!(!page_allowed(Role::Seller, "/"));
        assert!(!page_allowed(Role::Viewer, "/users"));
        assert!(page_allowed(Role::Admin, "/users"));
        assert!(page_allowed(Role::Seller, "/no-such-page"));
        for (path, _, _) in PAGES {
            assert!(page_allowed(Role::Admin, path), "{path}");
        }
        assert!(page_allowed(Role::Seller, home_of(Role::Seller)));
        assert!(page_allowed(Role::Viewer, home_of(Role::Viewer)));
    }
}
