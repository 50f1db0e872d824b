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

/// One CSV field, quoted when it needs to be; text starting with `=`, `+`, `-` or `@` is
/// escaped so a spreadsheet never runs a key name as a formula (numbers stay as they are).
pub fn csv_field(value: &str) -> String {
    let is_number = value.parse::<f64>().is_ok();
    let value = if !is_number && value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// Rows of fields as CSV text, lines ended by CRLF.
pub fn csv(rows: &[Vec<String>]) -> String {
    rows.iter()
        .map(|r| r.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","))
        .map(|line| line + "\r\n")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("-3.5"), "-3.5");
        assert_eq!(csv(&[vec!["a".into(), "b".into()]]), "a,b\r\n");
        assert_eq!(percent_encode("a b,中"), "a%20b%2C%E4%B8%AD");
    }
}
