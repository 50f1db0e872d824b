//! The answer's framing and the request head, without a socket.

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

#[test]
fn framing_follows_rfc_9112() {
    let ok = StatusCode::OK;
    let f = |pairs: &[(&str, &str)]| framing(ok, &headers(pairs)).ok();
    assert_eq!(f(&[("content-length", "12")]), Some(Framing::Length(12)));
    assert_eq!(
        f(&[("content-length", "12, 12")]),
        Some(Framing::Length(12))
    );
    assert_eq!(
        f(&[("content-length", "12"), ("content-length", "13")]),
        None
    );
    assert_eq!(f(&[("content-length", "+12")]), None);
    assert_eq!(f(&[("content-length", "")]), None);
    assert_eq!(f(&[("content-length", "99999999999999999999999")]), None);
    assert_eq!(
        f(&[("transfer-encoding", "gzip, Chunked")]),
        Some(Framing::Chunked)
    );
    assert_eq!(
        f(&[("transfer-encoding", "chunked, gzip")]),
        Some(Framing::Close)
    );
    assert_eq!(
        f(&[("transfer-encoding", "chunked"), ("content-length", "5")]),
        Some(Framing::Chunked)
    );
    assert_eq!(f(&[]), Some(Framing::Close));
    let empty = framing(StatusCode::NO_CONTENT, &headers(&[("content-length", "5")]));
    assert_eq!(empty.ok(), Some(Framing::Empty));
}

#[test]
fn the_head_goes_in_origin_form_with_host_and_the_bodys_length_only() {
    let mut req = Request::new(Bytes::from_static(b"{\"a\":1}"));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = "https://up.example:8443/v1/messages?beta=true"
        .parse()
        .unwrap();
    req.headers_mut()
        .insert("x-api-key", HeaderValue::from_static("k"));
    req.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("999"));
    req.headers_mut()
        .insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
    let host = HeaderValue::from_static("up.example:8443");
    let head = String::from_utf8(encode_head(&req, Some(&host))).unwrap();
    assert_eq!(
        head,
        "POST /v1/messages?beta=true HTTP/1.1\r\nhost: up.example:8443\r\n\
         x-api-key: k\r\ncontent-length: 7\r\n\r\n"
    );
}
