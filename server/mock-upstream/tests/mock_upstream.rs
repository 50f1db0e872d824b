//! The mock upstream over real HTTP on 127.0.0.1: each platform's answers and stream framing,
//! usage numbers, every fault kind, forced compression, the control API, the binary, and the
//! CONNECT/SOCKS5 proxies.

#[path = "mock_upstream/anthropic.rs"]
mod anthropic;
#[path = "mock_upstream/control.rs"]
mod control;
#[path = "mock_upstream/faults.rs"]
mod faults;
#[path = "mock_upstream/gemini.rs"]
mod gemini;
#[path = "mock_upstream/openai.rs"]
mod openai;
#[path = "mock_upstream/proxies.rs"]
mod proxies;
#[path = "mock_upstream/support.rs"]
mod support;
