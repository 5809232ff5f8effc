//! WebSocket frames as a client writes them (masked) and reads them (a server's are
//! not), for the tests that speak WebSocket without a client library.

use bytes::{Bytes, BytesMut};

/// A client frame: FIN, `opcode`, masked with a fixed key (RFC 6455 §5.3).
pub fn client_frame(opcode: u8, payload: &[u8]) -> Bytes {
    let key = [0x12, 0x34, 0x56, 0x78];
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out.into()
}

/// One whole server frame from `buf`: its opcode and payload (never masked).
pub fn server_frame(buf: &mut BytesMut) -> Option<(u8, Vec<u8>)> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    assert_eq!(b1 & 0x80, 0, "a server frame is never masked");
    let (len, at) = match b1 & 0x7f {
        126 => (
            usize::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])),
            4,
        ),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (usize::from(n), 2),
    };
    if buf.len() < at + len {
        return None;
    }
    let frame = buf.split_to(at + len);
    Some((b0 & 0x0f, frame[at..].to_vec()))
}
