//! What an HTTP/2 client writes, built with the codec crate's own encoders, for the
//! tests that drive a server on the simulated runtime.

use roadrunner_h2::frame;
use roadrunner_h2::{Encoder, Settings};

/// The client's preface, its SETTINGS and the ACK of ours.
pub fn hello() -> Vec<u8> {
    let mut out = roadrunner_h2::conn::PREFACE.to_vec();
    frame::encode_settings(&Settings::default(), &mut out);
    frame::encode_settings_ack(&mut out);
    out
}

/// The header block of a request for `path` with `method` and the `extra` fields.
pub fn block(method: &str, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut fields = vec![
        (":method", method),
        (":scheme", "http"),
        (":authority", "sim"),
        (":path", path),
    ];
    fields.extend_from_slice(extra);
    let mut block = Vec::new();
    Encoder::new().encode(
        fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
        &mut block,
    );
    block
}
