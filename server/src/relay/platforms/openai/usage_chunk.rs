//! Hiding the usage chunk the relay asked for on a client's behalf.

use bytes::Bytes;
use serde_json::Value;

use crate::relay::platforms::usage_openai::has_usage_object;
use crate::relay::platforms::BodyTransform;

/// Removes the usage-only chunk (`choices: []` with a `usage` object) from a Chat
/// Completions stream, line by line, with the blank line that ends its event.
#[derive(Default)]
pub struct HideUsageChunk {
    partial: Vec<u8>,
    skip_blank: bool,
}

/// Whether an SSE line is the usage-only chunk.
fn is_usage_only_chunk(line: &[u8]) -> bool {
    let Some(data) = line.strip_prefix(b"data:") else {
        return false;
    };
    if !has_usage_object(data) {
        return false;
    }
    crate::relay::json_guard::upstream_value(data.trim_ascii()).is_some_and(|v| {
        v.get("usage").is_some_and(Value::is_object)
            && v.get("choices")
                .is_none_or(|c| c.as_array().is_some_and(|a| a.is_empty()))
    })
}

impl HideUsageChunk {
    fn keep(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if self.skip_blank && content.is_empty() {
            self.skip_blank = false;
        } else if is_usage_only_chunk(content) {
            self.skip_blank = true;
        } else {
            self.skip_blank = false;
            out.extend_from_slice(line);
        }
    }
}

impl BodyTransform for HideUsageChunk {
    fn chunk(&mut self, upstream: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(upstream.len());
        let mut rest = upstream;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            let (line, tail) = rest.split_at(nl + 1);
            rest = tail;
            if self.partial.is_empty() {
                self.keep(line, &mut out);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.keep(&whole, &mut out);
            }
        }
        self.partial.extend_from_slice(rest);
        Bytes::from(out)
    }

    fn end(&mut self) -> Bytes {
        let mut out = Vec::new();
        let last = std::mem::take(&mut self.partial);
        if !last.is_empty() {
            self.keep(&last, &mut out);
        }
        Bytes::from(out)
    }

    fn content_type(&self) -> &'static str {
        "text/event-stream"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_chunk_is_hidden_in_any_chunking() {
        let stream =
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n\
data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n\
data: [DONE]\n\n";
        let want =
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n\
data: [DONE]\n\n";
        for size in [1, 4, 30, stream.len()] {
            let mut t = HideUsageChunk::default();
            let mut out = Vec::new();
            for c in stream.as_bytes().chunks(size) {
                out.extend_from_slice(&t.chunk(c));
            }
            out.extend_from_slice(&t.end());
            assert_eq!(String::from_utf8(out).unwrap(), want, "chunk size {size}");
        }
        // Usage on a chunk with choices (some compatible upstreams) stays.
        let mut t = HideUsageChunk::default();
        let line = "data: {\"choices\":[{\"delta\":{}}],\"usage\":{\"prompt_tokens\":1}}\r\n\r\n";
        assert_eq!(&t.chunk(line.as_bytes())[..], line.as_bytes());
    }
}
