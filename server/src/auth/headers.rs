//! Security headers of the dashboard (pages, server functions, the admin API, its assets); the
//! relay's routes are outside this router and answer API clients without them.
//!
//! The Content-Security-Policy allows scripts from our origin only, plus the one inline script
//! Leptos writes to start hydration (it loads `/pkg/tollgate.js` and its wasm), which carries a
//! fresh nonce per page: the render puts the nonce in the page and the header (see
//! [`page_policy`]). `'wasm-unsafe-eval'` lets the browser compile the wasm; no `'unsafe-eval'`,
//! no `'unsafe-inline'` for scripts. Inline `style` attributes are allowed (the charts set
//! positions with them); they cannot run code.

use axum::http::{header, HeaderMap, HeaderValue};

/// The policy of an HTML page; `nonce` admits the page's own inline scripts.
pub fn content_security_policy(nonce: Option<&str>) -> String {
    let scripts = match nonce {
        Some(n) => format!("'self' 'nonce-{n}' 'wasm-unsafe-eval'"),
        None => "'self' 'wasm-unsafe-eval'".to_owned(),
    };
    format!(
        "default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Called while a page renders (Leptos context): puts the nonce Leptos gave this page's scripts
/// into the response's policy.
pub fn page_policy() {
    use leptos::prelude::use_context;
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(v) = HeaderValue::from_str(&content_security_policy(Some(&nonce))) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, v);
    }
}

/// Adds the headers every dashboard response gets; HTML without a policy of its own (error
/// pages, static HTML) gets the strict one, without a nonce.
pub fn apply(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        if let Ok(v) = HeaderValue::from_str(&content_security_policy(None)) {
            headers.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_gets_a_policy_and_everything_gets_the_basics() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        apply(&mut h);
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("'wasm-unsafe-eval'"));
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval';"),
            "{csp}"
        );
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");

        let mut json = HeaderMap::new();
        json.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        apply(&mut json);
        assert!(!json.contains_key(header::CONTENT_SECURITY_POLICY));
        assert_eq!(json[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

        let with_nonce = content_security_policy(Some("abc"));
        assert!(with_nonce.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval'"));
    }
}
