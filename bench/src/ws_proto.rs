//! The client side of RFC 6455, as much as the load client needs: the opening
//! handshake with no extension offered, masked binary frames out, the server's
//! unmasked frames in, checked against what was sent.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha1::{Digest, Sha1};

/// RFC 6455 §1.3.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Handshake responses longer than this are refused rather than buffered.
pub const MAX_HEAD: usize = 8 * 1024;

/// xorshift64*: cheap masking keys and handshake nonces. RFC 6455 wants masking
/// keys a proxy cannot predict; a generator seeded per connection is enough
/// for a loopback benchmark, and costs nothing next to a syscall.
pub struct Rng(u64);

impl Rng {
    /// A generator for connection `index`, seeded from the clock so runs differ.
    pub fn new(index: u64) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        // The golden-ratio increment keeps seeds of neighbouring indexes apart;
        // `| 1` keeps the state non-zero, which xorshift needs.
        Rng((nanos ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// A `Sec-WebSocket-Key`: 16 random bytes, base64.
pub fn new_key(rng: &mut Rng) -> String {
    let mut nonce = [0u8; 16];
    nonce[..8].copy_from_slice(&rng.next_u64().to_ne_bytes());
    nonce[8..].copy_from_slice(&rng.next_u64().to_ne_bytes());
    BASE64.encode(nonce)
}

/// The opening handshake for `path` on `host` (`127.0.0.1:PORT`), offering no
/// extension: every server then echoes uncompressed frames.
pub fn handshake_request(host: &str, path: &str, key: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// Where the response head ends in `buf` (just past its `\r\n\r\n`), if it does.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Checks a handshake response head: `101`, the right `Sec-WebSocket-Accept`,
/// and no extension agreed (none was offered).
pub fn check_handshake_response(head: &[u8], key: &str) -> Result<(), String> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 101") {
        return Err(format!("handshake answered {status:?}, expected 101"));
    }
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    let expected = BASE64.encode(sha.finalize());
    let mut accept_ok = false;
    for (name, value) in lines.filter_map(|l| l.split_once(':')) {
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("sec-websocket-accept") {
            accept_ok = value == expected;
        } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
            return Err(format!(
                "the server agreed to extensions never offered: {value}"
            ));
        }
    }
    if accept_ok {
        Ok(())
    } else {
        Err(format!("missing or wrong Sec-WebSocket-Accept in {text:?}"))
    }
}

/// One connection's outgoing message: a payload of `size` bytes whose first
/// (up to) 8 hold a sequence number, so an echo of an earlier message does not
/// pass for the current one, and the masked frame carrying it, both reused.
pub struct Outgoing {
    payload: Vec<u8>,
    frame: Vec<u8>,
    header_len: usize,
}

impl Outgoing {
    pub fn new(size: usize) -> Self {
        let payload: Vec<u8> = (0..size).map(|i| (i * 31 + 7) as u8).collect();
        // FIN + binary; the length with the mask bit; the masking key goes last.
        let mut frame = vec![0x82];
        match size {
            0..=125 => frame.push(0x80 | size as u8),
            126..=0xFFFF => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(size as u16).to_be_bytes());
            }
            _ => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(size as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&[0; 4]);
        let header_len = frame.len();
        frame.resize(header_len + size, 0);
        Outgoing {
            payload,
            frame,
            header_len,
        }
    }

    /// The frame for message `seq`, masked with `key`.
    pub fn frame(&mut self, seq: u64, key: [u8; 4]) -> &[u8] {
        let n = self.payload.len().min(8);
        self.payload[..n].copy_from_slice(&seq.to_le_bytes()[..n]);
        let (header, body) = self.frame.split_at_mut(self.header_len);
        header[self.header_len - 4..].copy_from_slice(&key);
        mask_into(body, &self.payload, key);
        &self.frame
    }

    /// What the echo of the last frame must carry.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
}

/// `dst = src ^ key` repeated, eight bytes at a time (the compiler vectorises it).
fn mask_into(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let k = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (d, s) in (&mut d).zip(&mut s) {
        let v = u64::from_ne_bytes(s.try_into().expect("8-byte chunk")) ^ k;
        d.copy_from_slice(&v.to_ne_bytes());
    }
    // Chunks of 8 keep the key aligned: the tail starts at key byte 0.
    for (i, (d, s)) in d.into_remainder().iter_mut().zip(s.remainder()).enumerate() {
        *d = s ^ key[i % 4];
    }
}

/// If `buf` starts with a whole frame, checks that it is the unmasked, final,
/// binary echo of `payload` and returns its length; `Ok(None)` while incomplete.
pub fn check_echo(buf: &[u8], payload: &[u8]) -> Result<Option<usize>, String> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    let (len, header_len) = match b1 & 0x7F {
        126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => (
            u64::from_be_bytes(buf[2..10].try_into().expect("8 bytes")),
            10,
        ),
        126 | 127 => return Ok(None),
        n => (u64::from(n), 2),
    };
    if b0 != 0x82 || b1 & 0x80 != 0 {
        return Err(format!(
            "expected an unmasked final binary frame, got header bytes {b0:#04x} {b1:#04x} \
             (length {len})"
        ));
    }
    if len != payload.len() as u64 {
        return Err(format!(
            "echo of {len} bytes for a message of {}",
            payload.len()
        ));
    }
    let end = header_len + payload.len();
    if buf.len() < end {
        return Ok(None);
    }
    if &buf[header_len..end] != payload {
        let at = buf[header_len..end]
            .iter()
            .zip(payload)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        return Err(format!(
            "echo differs from the message at byte {at} of {}",
            payload.len()
        ));
    }
    Ok(Some(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unmasks a client frame as a server would.
    fn unmask(frame: &[u8], header_len: usize) -> Vec<u8> {
        let key = &frame[header_len - 4..header_len];
        frame[header_len..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect()
    }

    /// The server's echo of `payload`: the same frame, unmasked.
    fn echo(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x82];
        match payload.len() {
            n @ 0..=125 => f.push(n as u8),
            n => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn frames_are_masked_and_echoes_checked() {
        for (size, header_len) in [(20, 6), (16 * 1024, 8), (13, 6)] {
            let mut out = Outgoing::new(size);
            let frame = out.frame(7, [1, 2, 3, 250]).to_vec();
            assert_eq!(frame[0], 0x82);
            assert_eq!(frame.len(), header_len + size);
            assert_eq!(unmask(&frame, header_len), out.payload());
            assert_eq!(out.payload()[..8], 7u64.to_le_bytes());

            let mut reply = echo(out.payload());
            assert_eq!(check_echo(&reply[..3], out.payload()), Ok(None));
            reply.push(0x89);
            assert_eq!(check_echo(&reply, out.payload()), Ok(Some(reply.len() - 1)));

            let stale = echo(out.payload());
            out.frame(8, [0; 4]);
            assert!(check_echo(&stale, out.payload())
                .unwrap_err()
                .contains("at byte 0"));
        }
    }

    #[test]
    fn other_frames_are_errors() {
        let payload = [0u8; 20];
        let mut text = echo(&payload);
        text[0] = 0x81;
        assert!(check_echo(&text, &payload).is_err());
        assert!(check_echo(&[0x88, 0x02, 0x03, 0xE8], &payload).is_err());
        assert!(check_echo(&echo(&[0u8; 21]), &payload)
            .unwrap_err()
            .contains("21 bytes"));
    }

    #[test]
    fn handshake() {
        // RFC 6455 §1.3's example key and answer.
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                   Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert_eq!(head_end(ok), Some(ok.len()));
        assert_eq!(check_handshake_response(ok, key), Ok(()));
        assert!(check_handshake_response(ok, "AAAAAAAAAAAAAAAAAAAAAA==").is_err());
        let deflate = b"HTTP/1.1 101 Switching Protocols\r\n\
                        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
                        Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
        assert!(check_handshake_response(deflate, key).is_err());
        assert!(check_handshake_response(b"HTTP/1.1 400 Bad Request\r\n\r\n", key).is_err());
        assert_eq!(new_key(&mut Rng::new(1)).len(), 24);
    }
}
