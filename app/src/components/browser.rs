//! What only a browser can do: copy to the clipboard and save a file. Both are no-ops while
//! rendering on the server (they only ever run from event handlers).

/// Copies `text` to the clipboard; false when the browser refused.
pub fn copy_text(text: &str) -> bool {
    #[cfg(not(feature = "ssr"))]
    {
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(text);
            return true;
        }
    }
    let _ = text;
    false
}

/// Percent-encodes everything but unreserved characters, for a `data:` URL.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Offers `content` as a download named `filename`. CSV gets a byte-order mark so
/// spreadsheet programs read Chinese text as UTF-8.
pub fn download(filename: &str, mime: &str, content: &str) {
    let body = if mime == "text/csv" {
        format!("\u{feff}{content}")
    } else {
        content.to_owned()
    };
    let href = format!("data:{mime};charset=utf-8,{}", percent_encode(&body));
    #[cfg(not(feature = "ssr"))]
    {
        use wasm_bindgen::JsCast;
        let anchor = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.create_element("a").ok())
            .and_then(|e| e.dyn_into::<web_sys::HtmlAnchorElement>().ok());
        if let Some(a) = anchor {
            a.set_href(&href);
            a.set_download(filename);
            a.click();
        }
    }
    let _ = (filename, href);
}

/// Rows of fields as CSV text, lines ended by CRLF.
pub fn csv(rows: &[Vec<String>]) -> String {
    rows.iter()
        .map(|r| crate::csv::row(r))
        .map(|line| line + "\r\n")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_end_in_crlf_and_fields_are_escaped() {
        assert_eq!(csv(&[vec!["a".into(), "b".into()]]), "a,b\r\n");
        assert_eq!(
            csv(&[vec!["\t=cmd".into(), "-3.5".into()]]),
            "'\t=cmd,-3.5\r\n"
        );
        assert_eq!(percent_encode("a b,中"), "a%20b%2C%E4%B8%AD");
    }
}
