//! What the mock answers with: timing, token counts, faults and a forced content-encoding.
//! Set per upstream credential or as the default for credentials nobody configured.

use serde::{Deserialize, Serialize};

/// How the mock behaves for one credential. Every field has a default, so a JSON body only
/// needs the fields it changes (`{"latencyMs": 50}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Behavior {
    /// Delay before the response headers are sent.
    pub latency_ms: u64,
    /// Number of text deltas in a stream (and words in a non-stream answer).
    pub chunks: usize,
    /// Delay between two consecutive text deltas of a stream.
    pub chunk_gap_ms: u64,
    /// Token counts reported in the answer.
    pub usage: MockUsage,
    /// Failure to inject; `None` answers normally.
    pub fault: Option<Fault>,
    /// `None`: `fault` hits every request. `Some(n)`: only the next `n` requests, then healthy.
    pub fault_times: Option<u32>,
    /// `"gzip" | "br" | "zstd" | "deflate"`: compress the body with that content-encoding
    /// whatever the client accepts, like a misbehaving compatible upstream. Streams are
    /// compressed incrementally and flushed per event.
    pub compress: Option<String>,
    /// Answer without any usage, like an OpenAI-compatible upstream that ignores
    /// `stream_options` or a Gemini answer filtered by `fields=` (OpenAI Chat and Gemini).
    pub omit_usage: bool,
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior {
            latency_ms: 0,
            chunks: 3,
            chunk_gap_ms: 0,
            usage: MockUsage::default(),
            fault: None,
            fault_times: None,
            compress: None,
            omit_usage: false,
        }
    }
}

impl Behavior {
    /// Rejects settings the mock cannot act on, so a typo fails loudly instead of silently
    /// serving the healthy default.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(name) = &self.compress {
            if Encoding::parse(name).is_none() {
                return Err(format!(
                    "unknown compress {name:?}: expected gzip, br, zstd or deflate"
                ));
            }
        }
        if let Some(Fault::Status { status, .. } | Fault::Refused { status }) = self.fault {
            if !(400..=599).contains(&status) {
                return Err(format!("fault status {status} is not an HTTP error status"));
            }
        }
        Ok(())
    }

    pub(crate) fn encoding(&self) -> Option<Encoding> {
        self.compress.as_deref().and_then(Encoding::parse)
    }
}

/// Token counts the mock reports. Defaults: 100 input, 20 output (fixed, whatever `chunks`
/// is), no cache traffic. Each platform maps them onto its own usage fields: Anthropic reports
/// them as they are; OpenAI and Gemini report `input + cache_read` as prompt tokens, of which
/// `cache_read` are cached (they have no cache-write counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MockUsage {
    pub input: u64,
    pub output: u64,
    pub cache_write_5m: u64,
    pub cache_write_1h: u64,
    pub cache_read: u64,
}

impl Default for MockUsage {
    fn default() -> Self {
        MockUsage {
            input: 100,
            output: 20,
            cache_write_5m: 0,
            cache_write_1h: 0,
            cache_read: 0,
        }
    }
}

impl MockUsage {
    /// Prompt tokens as OpenAI and Gemini count them: cached reads are part of the prompt.
    pub(crate) fn prompt_total(&self) -> u64 {
        self.input + self.cache_read
    }
}

/// A failure to inject. JSON: `{"type":"status","status":429,"retryAfterSecs":5}`,
/// `{"type":"resetMidStream","afterChunks":2}`, `{"type":"stall","afterChunks":1}`,
/// `{"type":"stallBeforeHeaders"}`, `{"type":"refused","status":403}`.
///
/// A request can also carry its own fault, whatever its credential's behaviour says: a
/// top-level `"mockFault"` member of its JSON body (the relay forwards bodies as they are), so
/// one test can mix faults request by request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Fault {
    /// Answer with this error status, in the platform's own error shape.
    Status {
        status: u16,
        retry_after_secs: Option<u64>,
    },
    /// Send the headers and `after_chunks` text deltas, then reset the TCP connection (no
    /// chunked terminator). A non-stream answer is cut halfway through its body instead.
    ResetMidStream { after_chunks: usize },
    /// Send `after_chunks` text deltas, then go silent until the client gives up. A non-stream
    /// answer sends half its body, then goes silent.
    Stall { after_chunks: usize },
    /// Accept the request and never answer.
    StallBeforeHeaders,
    /// Answer with this error status in a shape that names the request as the cause, as real
    /// upstreams refuse a model the caller may not use: Anthropic `invalid_request_error`,
    /// OpenAI `model_not_found`, Gemini `NOT_FOUND`.
    Refused { status: u16 },
}

/// The content-encodings the mock can force onto a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Gzip,
    Brotli,
    Zstd,
    Deflate,
}

impl Encoding {
    pub(crate) fn parse(name: &str) -> Option<Encoding> {
        let name = name.trim();
        [
            Encoding::Gzip,
            Encoding::Brotli,
            Encoding::Zstd,
            Encoding::Deflate,
        ]
        .into_iter()
        .find(|e| e.header_value().eq_ignore_ascii_case(name))
    }

    pub(crate) fn header_value(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Brotli => "br",
            Encoding::Zstd => "zstd",
            Encoding::Deflate => "deflate",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_uses_camel_case_and_defaults() {
        let b: Behavior = serde_json::from_str(
            r#"{"chunkGapMs":5,"usage":{"cacheWrite5m":7},
                "fault":{"type":"status","status":429,"retryAfterSecs":3},"faultTimes":2}"#,
        )
        .unwrap();
        assert_eq!(b.chunks, 3);
        assert_eq!(b.chunk_gap_ms, 5);
        assert_eq!(b.usage.cache_write_5m, 7);
        assert_eq!(b.usage.input, 100);
        assert_eq!(
            b.fault,
            Some(Fault::Status {
                status: 429,
                retry_after_secs: Some(3)
            })
        );
        assert_eq!(b.fault_times, Some(2));
        let stall: Fault =
            serde_json::from_str(r#"{"type":"resetMidStream","afterChunks":1}"#).unwrap();
        assert_eq!(stall, Fault::ResetMidStream { after_chunks: 1 });
    }

    #[test]
    fn validation_rejects_unknown_encodings_and_non_error_statuses() {
        let mut b = Behavior {
            compress: Some("lz4".into()),
            ..Behavior::default()
        };
        assert!(b.validate().is_err());
        b.compress = Some("br".into());
        assert!(b.validate().is_ok());
        b.fault = Some(Fault::Status {
            status: 200,
            retry_after_secs: None,
        });
        assert!(b.validate().is_err());
    }
}
