use super::*;

fn parsed(raw: &str) -> Parse {
    parse(raw.as_bytes(), &mut Spans::new())
}

const BODY: &str = "{\"a\":1}";

fn request(head: &str) -> String {
    format!("POST /v1/messages HTTP/1.1\r\nhost: x\r\n{head}\r\n{BODY}")
}

#[test]
fn a_plain_post_to_a_hot_route_is_served_with_its_parts_located() {
    let raw = format!(
        "POST /v1/messages?beta=true HTTP/1.1\r\nHost: x\r\nX-Api-Key: k1\r\ncontent-length: 7\r\n\r\n{BODY}POST /next"
    );
    let mut spans = Spans::new();
    let p = parse(raw.as_bytes(), &mut spans);
    let head_len = raw.find("\r\n\r\n").unwrap() + 4;
    assert_eq!(
        p,
        Parse::Serve {
            head_len,
            body_len: 7,
            hot: (Hot::Messages, "/v1/messages"),
            close: false
        }
    );
    assert_eq!(
        &raw[spans.target.0..spans.target.1],
        "/v1/messages?beta=true"
    );
    assert_eq!(spans.count, 3);
    let lines: Vec<(&str, &str)> = spans.headers[..3]
        .iter()
        .map(|&(n0, n1, v0, v1)| {
            (
                &raw[n0 as usize..n1 as usize],
                &raw[v0 as usize..v1 as usize],
            )
        })
        .collect();
    assert_eq!(
        lines,
        [("Host", "x"), ("X-Api-Key", "k1"), ("content-length", "7")]
    );
}

#[test]
fn what_has_not_arrived_is_waited_for() {
    assert_eq!(
        parsed("POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-le"),
        Parse::Partial
    );
    assert_eq!(parsed(""), Parse::Partial);
    let raw = request("content-length: 8\r\n");
    assert_eq!(parsed(&raw), Parse::Body(raw.len() + 1));
    // Part of HTTP/2's preface: the rest decides (it is hyper's once complete).
    assert_eq!(parsed("PRI * HTTP/2"), Parse::Partial);
    let raw = request("Connection: keep-alive, Close\r\ncontent-length: 7\r\n");
    assert!(matches!(parsed(&raw), Parse::Serve { close: true, .. }));
}

#[test]
fn anything_but_the_narrow_shape_is_left_to_hyper() {
    let other = [
        // Not a hot route, or not as the router would match it.
        "GET /v1/messages HTTP/1.1\r\ncontent-length: 7\r\n\r\n",
        "POST /v1/messages/ HTTP/1.1\r\ncontent-length: 7\r\n\r\n",
        "POST /v1/%6Dessages HTTP/1.1\r\ncontent-length: 7\r\n\r\n",
        "POST http://x/v1/messages HTTP/1.1\r\ncontent-length: 7\r\n\r\n",
        "POST /v1/messages#x HTTP/1.1\r\ncontent-length: 7\r\n\r\n",
        "POST /v1/messages HTTP/1.0\r\ncontent-length: 7\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        // Framing hyper decides: none, chunked, both, twice, odd digits, too large.
        "POST /v1/messages HTTP/1.1\r\nhost: x\r\n\r\n",
        "POST /v1/messages HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n",
        "POST /v1/messages HTTP/1.1\r\ncontent-length: 7\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /v1/messages HTTP/1.1\r\ncontent-length: 7\r\ncontent-length: 7\r\n\r\n",
        "POST /v1/messages HTTP/1.1\r\ncontent-length: 7, 7\r\n\r\n",
        "POST /v1/messages HTTP/1.1\r\ncontent-length: +7\r\n\r\n",
        "POST /v1/messages HTTP/1.1\r\ncontent-length: 0x7\r\n\r\n",
        "POST /v1/messages HTTP/1.1\r\ncontent-length: 99999999999999999999\r\n\r\n",
        "POST /v1/messages HTTP/1.1\r\ncontent-length: 16385\r\n\r\n",
        // Expectations, upgrades, other connection options.
        "POST /v1/messages HTTP/1.1\r\nexpect: 100-continue\r\ncontent-length: 7\r\n\r\n",
        "POST /v1/messages HTTP/1.1\r\nupgrade: h2c\r\ncontent-length: 7\r\n\r\n",
        "POST /v1/messages HTTP/1.1\r\nconnection: upgrade\r\ncontent-length: 7\r\n\r\n",
        // Malformed heads: hyper answers them (400).
        "POST /v1/messages HTTP/1.1\r\nbad header: x\r\ncontent-length: 7\r\n\r\n",
        "POST /v1/messages HTTP/1.1\r\nx: a\r\n folded\r\ncontent-length: 7\r\n\r\n",
        "POST  /v1/messages HTTP/1.1\r\ncontent-length: 7\r\n\r\n",
    ];
    for head in other {
        assert_eq!(parsed(&format!("{head}{BODY}")), Parse::Other, "{head:?}");
    }
    // A head that never ends is hyper's once it passes MAX_HEAD.
    let long = format!("POST /v1/messages HTTP/1.1\r\nx: {}", "a".repeat(MAX_HEAD));
    assert_eq!(parsed(&long), Parse::Other);
    // Too many header lines.
    let many = "x: y\r\n".repeat(MAX_HEADERS + 1);
    assert_eq!(
        parsed(&request(&format!("{many}content-length: 7\r\n"))),
        Parse::Other
    );
}
