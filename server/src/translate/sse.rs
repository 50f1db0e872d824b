//! Server-sent events: reading an upstream body cut at arbitrary byte boundaries into events,
//! and writing client-facing frames.

/// The longest line kept across chunks (one event's data); a longer one is reported as
/// [`SseItem::Oversized`] instead of growing without bound.
const MAX_LINE: usize = 16 << 20;

/// One event read from the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum SseItem<'a> {
    /// `event:` name (empty when the upstream sent none) and the joined `data:` lines.
    Event { event: &'a str, data: &'a str },
    /// An event whose data exceeded [`MAX_LINE`]; its content is lost.
    Oversized,
}

/// Splits a byte stream into events. Lines end with `\n` (a preceding `\r` is dropped), a blank
/// line ends an event; comments and unknown fields are skipped, as the SSE standard says.
#[derive(Debug, Default)]
pub struct SseReader {
    line: Vec<u8>,
    /// The current line grew past [`MAX_LINE`]: the rest of it is skipped.
    skipping: bool,
    oversized: bool,
    event: String,
    data: String,
    has_data: bool,
}

impl SseReader {
    /// Feeds one chunk; calls `on_item` for each event completed by it.
    pub fn feed(&mut self, mut chunk: &[u8], on_item: &mut dyn FnMut(SseItem<'_>)) {
        while let Some(nl) = memchr::memchr(b'\n', chunk) {
            let (line, rest) = chunk.split_at(nl);
            chunk = &rest[1..];
            if self.skipping {
                self.skipping = false;
                self.line.clear();
                continue;
            }
            if self.line.is_empty() {
                self.on_line(line, on_item);
            } else {
                self.line.extend_from_slice(line);
                let whole = std::mem::take(&mut self.line);
                self.on_line(&whole, on_item);
            }
        }
        if self.skipping || chunk.is_empty() {
            return;
        }
        if self.line.len() + chunk.len() > MAX_LINE {
            self.line.clear();
            self.skipping = true;
            self.oversized = true;
        } else {
            self.line.extend_from_slice(chunk);
        }
    }

    /// The end of the stream: an event left without its closing blank line still counts.
    pub fn finish(&mut self, on_item: &mut dyn FnMut(SseItem<'_>)) {
        if !self.line.is_empty() && !self.skipping {
            let whole = std::mem::take(&mut self.line);
            self.on_line(&whole, on_item);
        }
        self.on_line(b"", on_item);
    }

    fn on_line(&mut self, line: &[u8], on_item: &mut dyn FnMut(SseItem<'_>)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if self.oversized {
                on_item(SseItem::Oversized);
            } else if self.has_data {
                on_item(SseItem::Event {
                    event: &self.event,
                    data: &self.data,
                });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            self.oversized = false;
            return;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(0) => return, // a comment
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"event" => {
                self.event.clear();
                self.event.push_str(&value);
            }
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            _ => {}
        }
    }
}

/// Appends `event: <name>\ndata: <data>\n\n` (Anthropic and Responses style).
pub fn named_frame(out: &mut Vec<u8>, event: &str, data: &str) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.push(b'\n');
    data_frame(out, data);
}

/// Appends `data: <data>\n\n` (OpenAI Chat style).
pub fn data_frame(out: &mut Vec<u8>, data: &str) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(chunks: &[&[u8]]) -> Vec<(String, String)> {
        let mut reader = SseReader::default();
        let mut out = Vec::new();
        let mut push = |item: SseItem<'_>| match item {
            SseItem::Event { event, data } => out.push((event.to_owned(), data.to_owned())),
            SseItem::Oversized => out.push(("!".into(), String::new())),
        };
        for c in chunks {
            reader.feed(c, &mut push);
        }
        reader.finish(&mut push);
        out
    }

    #[test]
    fn events_in_any_framing() {
        let text = "event: a\ndata: {\"x\":1}\n\n: comment\r\ndata: one\r\ndata:two\r\n\r\nid: 7\n\ndata: tail";
        let want = vec![
            ("a".to_owned(), "{\"x\":1}".to_owned()),
            (String::new(), "one\ntwo".to_owned()),
            (String::new(), "tail".to_owned()),
        ];
        assert_eq!(read(&[text.as_bytes()]), want);
        let bytes: Vec<&[u8]> = text.as_bytes().chunks(1).collect();
        assert_eq!(read(&bytes), want);
    }

    #[test]
    fn multibyte_text_split_inside_a_character() {
        let text = "data: héllo ✓\n\n".as_bytes();
        assert_eq!(
            read(&[&text[..8], &text[8..14], &text[14..]])[0].1,
            "héllo ✓"
        );
    }

    #[test]
    fn an_oversized_line_is_reported_not_kept() {
        let big = vec![b'x'; MAX_LINE + 10];
        let got = read(&[b"data: ", &big, b"\n\ndata: ok\n\n"]);
        assert_eq!(
            got,
            vec![("!".into(), String::new()), (String::new(), "ok".into())]
        );
    }
}
