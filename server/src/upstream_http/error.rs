//! What the upstream clients hand back besides an answer: the answer's body as a stream, and a
//! transport failure without the URL in its text.

use bytes::Bytes;
use futures::stream::BoxStream;

/// The body of an upstream answer, chunk by chunk.
pub type BodyStream = BoxStream<'static, Result<Bytes, UpstreamError>>;

/// A transport failure: connecting, sending, or reading the body. Its text never includes the
/// URL (a query string may carry credentials).
#[derive(Debug)]
pub struct UpstreamError(Box<dyn std::error::Error + Send + Sync>);

impl UpstreamError {
    pub(crate) fn msg(text: impl Into<String>) -> Self {
        UpstreamError(text.into().into())
    }

    pub(super) fn boxed(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        UpstreamError(Box::new(e))
    }

    pub(super) fn from_box(e: Box<dyn std::error::Error + Send + Sync>) -> Self {
        UpstreamError(e)
    }

    pub(super) fn reqwest(e: reqwest::Error) -> Self {
        UpstreamError(Box::new(e.without_url()))
    }

    /// The error and its causes, on one line.
    pub fn describe(&self) -> String {
        let mut text = self.0.to_string();
        let mut source = self.0.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for UpstreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}
