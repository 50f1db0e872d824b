use super::*;
use crate::relay::platforms::usage_parse::AnthropicSse;
use futures::StreamExt;
use std::sync::{Arc, Mutex};

struct Record(Arc<Mutex<Vec<(BodyEnd, ParsedUsage)>>>);

impl Finish for Record {
    fn finish(self: Box<Self>, end: BodyEnd, parsed: ParsedUsage, _first: Option<Duration>) {
        self.0.lock().unwrap().push((end, parsed));
    }
}

const SSE: &[u8] = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":3}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

fn body(
    chunks: Vec<Result<Bytes, crate::upstream_http::UpstreamError>>,
    enc: Option<&str>,
    log: &Arc<Mutex<Vec<(BodyEnd, ParsedUsage)>>>,
) -> MeteredBody {
    let token = tokio_util::sync::CancellationToken::new();
    MeteredBody::new(
        futures::stream::iter(chunks).boxed(),
        Box::new(AnthropicSse::default()),
        enc,
        Box::new(Record(log.clone())),
        Instant::now(),
        Duration::from_secs(5),
        token.cancelled_owned(),
    )
}

#[tokio::test]
async fn passes_bytes_unchanged_and_finishes_once() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let chunks: Vec<_> = SSE
        .chunks(13)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let out: Vec<u8> = body(chunks, None, &log)
        .map(|r| r.unwrap())
        .collect::<Vec<_>>()
        .await
        .concat();
    assert_eq!(out, SSE);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].0, BodyEnd::Completed);
    assert_eq!((log[0].1.usage.input, log[0].1.usage.output), (7, 3));
}

#[tokio::test]
async fn dropped_early_bills_what_was_seen() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let first = SSE.iter().position(|b| *b == b'\n').unwrap();
    let cut_at = SSE.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    let chunks = vec![
        Ok(Bytes::copy_from_slice(&SSE[..cut_at])),
        Ok(Bytes::copy_from_slice(&SSE[cut_at..])),
    ];
    let mut b = body(chunks, None, &log);
    let got = b.next().await.unwrap().unwrap();
    assert!(got.len() > first);
    drop(b);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].0, BodyEnd::ClientGone);
    assert_eq!(
        log[0].1.usage.input, 7,
        "input from message_start is billed"
    );
}

#[tokio::test]
async fn compressed_answers_are_metered_and_passed_through() {
    for enc in ["gzip", "br", "zstd", "deflate"] {
        let compressed = match enc {
            "gzip" => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(SSE).unwrap();
                e.finish().unwrap()
            }
            "deflate" => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(SSE).unwrap();
                e.finish().unwrap()
            }
            "br" => {
                let mut out = Vec::new();
                {
                    let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                    w.write_all(SSE).unwrap();
                }
                out
            }
            _ => zstd::encode_all(SSE, 3).unwrap(),
        };
        let log = Arc::new(Mutex::new(Vec::new()));
        let chunks: Vec<_> = compressed
            .chunks(5)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let out: Vec<u8> = body(chunks, Some(enc), &log)
            .map(|r| r.unwrap())
            .collect::<Vec<_>>()
            .await
            .concat();
        assert_eq!(out, compressed, "{enc}: bytes unchanged");
        let log = log.lock().unwrap();
        assert_eq!(
            (log[0].1.usage.input, log[0].1.usage.output),
            (7, 3),
            "{enc}"
        );
    }
}

#[tokio::test]
async fn a_fixed_length_answer_ends_with_its_last_byte() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let chunks: Vec<_> = SSE
        .chunks(40)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let mut b = body(chunks, None, &log).with_declared_length(Some(SSE.len() as u64));
    let mut n = 0;
    while n < SSE.len() {
        n += b.next().await.unwrap().unwrap().len();
    }
    // hyper stops polling here; dropping the body must not count as a disconnect.
    drop(b);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].0, BodyEnd::Completed);
}

#[tokio::test]
async fn settles_at_the_terminal_event_before_handing_it_on() {
    let log = Arc::new(Mutex::new(Vec::new()));
    // The terminal event's data line arrives without the blank line that ends it.
    let split = SSE.len() - 1;
    let chunks = vec![
        Ok(Bytes::copy_from_slice(&SSE[..split])),
        Ok(Bytes::copy_from_slice(&SSE[split..])),
    ];
    let mut b = body(chunks, None, &log);
    let first = b.next().await.unwrap().unwrap();
    assert_eq!(&first[..], &SSE[..split]);
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "settled before the chunk with message_stop went out"
    );
    // What follows still reaches the client, and nothing is settled twice.
    let rest = b.next().await.unwrap().unwrap();
    assert_eq!(&rest[..], &SSE[split..]);
    assert!(b.next().await.is_none());
    drop(b);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].0, BodyEnd::Completed);
    assert_eq!((log[0].1.usage.input, log[0].1.usage.output), (7, 3));
}

#[tokio::test(start_paused = true)]
async fn idle_upstream_times_out() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let token = tokio_util::sync::CancellationToken::new();
    let mut b = MeteredBody::new(
        futures::stream::pending().boxed(),
        Box::new(AnthropicSse::default()),
        None,
        Box::new(Record(log.clone())),
        Instant::now(),
        Duration::from_secs(2),
        token.cancelled_owned(),
    );
    assert!(b.next().await.unwrap().is_err());
    assert_eq!(log.lock().unwrap()[0].0, BodyEnd::IdleTimeout);
}
