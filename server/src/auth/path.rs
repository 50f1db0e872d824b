//! Request paths are judged as they will be understood, not as they were typed. A path with a
//! dot segment (`/pkg/../keys`), raw or percent-encoded (`%2e%2e`, `.%2E`, `..%2f`, also
//! encoded twice), or a backslash or NUL could match the public allow-list by its spelling while
//! a later layer (a file server, the router, a proxy) resolves it to something else. Such paths
//! are refused before authentication; no legitimate page or API call needs them.

/// Why a path is refused.
pub fn check(path: &str) -> Result<(), &'static str> {
    let decoded = decode_fully(path);
    if decoded.contains(['\\', '\0']) {
        return Err("backslashes and NUL are not allowed in paths");
    }
    if decoded
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err("dot segments are not allowed in paths");
    }
    Ok(())
}

/// Percent-decodes until nothing changes (at most a few rounds: `%252e` is `%2e` is `.`).
fn decode_fully(path: &str) -> String {
    let mut current = path.to_owned();
    for _ in 0..4 {
        let next = percent_decode(&current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_paths_pass() {
        for p in [
            "/",
            "/pkg/tollgate.js",
            "/admin/api-keys/0190-abc",
            "/admin/pricing/openrouter%2Fclaude-3.5",
            "/keys",
            "/a.b/c..d/...",
            "/usage",
        ] {
            assert_eq!(check(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn dot_segments_in_any_spelling_are_refused() {
        for p in [
            "/pkg/../keys",
            "/pkg/./keys",
            "/pkg/..",
            "/pkg/%2e%2e/keys",
            "/pkg/.%2E/admin/overview",
            "/pkg/%2E./keys",
            "/pkg/..%2fkeys",
            "/pkg/%252e%252e/keys",
            "/pkg/..%5ckeys",
            "/pkg\\..\\keys",
            "/health%00",
        ] {
            assert!(check(p).is_err(), "{p}");
        }
    }
}
