//! Drives a whole HTTP/3 server connection (`Endpoint` and `ServerConn`) against a
//! quinn-proto client in memory: a real QUIC handshake, then what the input says the
//! client writes on its streams (requests through a real QPACK encoder, DATA frames,
//! trailers, control and QPACK streams, arbitrary bytes, resets, stops) and what the
//! server's application does (answer, release, reset, shut down), with time passing.
//!
//! QUIC encrypts everything, so the input is the streams' bytes, not packets; the TLS
//! randomness (ring's, not seedable) changes the packets from run to run but not what
//! the HTTP/3 layer sees. Each run makes one handshake (about a millisecond).
//!
//! Checks that nothing panics, that no event follows `Closed`, that each stream's
//! events come in order (its `Request` first, nothing after its `Reset`), that open
//! streams stay within QUIC's limit plus those finishing, and that the connection
//! drains once closed.
#![no_main]

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use roadrunner_h3::http::{HeaderMap, StatusCode};
use roadrunner_h3::quinn_proto::crypto::rustls::QuicClientConfig;
use roadrunner_h3::quinn_proto::{
    self, ClientConfig, Connection, Dir, EndpointConfig, StreamId, VarInt,
};
use roadrunner_h3::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use roadrunner_h3::{
    frame, rustls, Config, DatagramEvent, Encoder, Endpoint, Event, ServerConn, StreamType,
};

const SERVER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 4433);
const CLIENT: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 5555);
const MAX_STREAMS: u32 = 8;

#[derive(Arbitrary, Debug)]
enum Op {
    /// A request's HEADERS on request stream `stream` (opened on first use).
    Headers {
        stream: u8,
        method: u8,
        path: u8,
        extra: Vec<(u8, u8)>,
        content_length: Option<u16>,
        fin: bool,
    },
    Data {
        stream: u8,
        len: u16,
        fin: bool,
    },
    /// Raw bytes on a request stream.
    RequestBytes {
        stream: u8,
        bytes: Vec<u8>,
        fin: bool,
    },
    /// Bytes on unidirectional stream `stream`, which starts with `ty` when opened.
    Uni {
        stream: u8,
        ty: u8,
        bytes: Vec<u8>,
        fin: bool,
    },
    /// The client's QPACK encoder instructions so far.
    FlushEncoder,
    ClientReset {
        stream: u8,
        code: u16,
        stop: bool,
    },
    Respond {
        stream: u8,
        status: u16,
        body: u16,
        trailers: bool,
    },
    Release {
        stream: u8,
        len: u16,
    },
    ServerReset {
        stream: u8,
        code: u16,
    },
    Shutdown,
    Advance {
        ms: u16,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// The client opens its control stream with SETTINGS first.
    control: bool,
    qpack_capacity: u16,
    ops: Vec<Op>,
}

fn tls() -> &'static (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    static TLS: OnceLock<(Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>)> =
        OnceLock::new();
    TLS.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert: CertificateDer<'static> = ck.cert.der().clone();
        let key = PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let mut client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.alpn_protocols = vec![b"h3".to_vec()];
        (Arc::new(server), Arc::new(client))
    })
}

struct World {
    now: Instant,
    endpoint: Endpoint,
    server: Option<(quinn_proto::ConnectionHandle, Box<ServerConn>)>,
    client_ep: quinn_proto::Endpoint,
    client_ch: quinn_proto::ConnectionHandle,
    client: Connection,
    requests: HashMap<u8, StreamId>,
    /// The client's unidirectional streams.
    unis: HashMap<u8, StreamId>,
    /// The one the client opened as its QPACK encoder stream, if any.
    encoder_stream: Option<StreamId>,
    /// The server's unidirectional streams.
    server_unis: Vec<StreamId>,
    /// Per stream: seen its Request, seen its Reset.
    seen: HashSet<u64>,
    gone: HashSet<u64>,
    closed: bool,
    buf: Vec<u8>,
}

impl World {
    fn step(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        let mut datagrams = Vec::new();
        loop {
            self.buf.clear();
            let Some(t) = self.client.poll_transmit(now, 10, &mut self.buf) else {
                break;
            };
            let size = t.segment_size.unwrap_or(t.size);
            datagrams.extend(self.buf[..t.size].chunks(size).map(BytesMut::from));
        }
        for d in datagrams {
            moved = true;
            match self
                .endpoint
                .handle_datagram(now, CLIENT, None, None, d, &mut self.buf)
            {
                Some(DatagramEvent::NewConnection(ch, conn)) => self.server = Some((ch, conn)),
                Some(DatagramEvent::ConnectionEvent(_, e)) => {
                    if let Some((_, s)) = &mut self.server {
                        s.handle_event(now, e);
                    }
                }
                Some(DatagramEvent::Response(_)) | None => {}
            }
        }
        let mut back = Vec::new();
        if let Some((ch, s)) = &mut self.server {
            while let Some(e) = s.poll_endpoint_events() {
                if let Some(answer) = self.endpoint.handle_endpoint_event(*ch, e) {
                    s.handle_event(now, answer);
                }
            }
            while let Some(event) = s.poll_event() {
                assert!(!self.closed, "an event after Closed: {event:?}");
                match event {
                    Event::Request { stream, .. } => {
                        assert!(self.seen.insert(stream), "a second Request");
                    }
                    Event::Data { stream, .. }
                    | Event::Trailers { stream, .. }
                    | Event::Writable { stream } => {
                        assert!(self.seen.contains(&stream) && !self.gone.contains(&stream));
                    }
                    Event::Reset { stream, .. } => {
                        assert!(self.seen.contains(&stream) && self.gone.insert(stream));
                    }
                    Event::Closed(_) => self.closed = true,
                }
            }
            assert!(
                s.open_streams() <= 2 * MAX_STREAMS as usize,
                "{} streams open",
                s.open_streams()
            );
            loop {
                let Some(t) = s.poll_transmit(now, 10, &mut self.buf) else {
                    break;
                };
                let size = t.segment_size.unwrap_or(t.size);
                back.extend(self.buf[..t.size].chunks(size).map(BytesMut::from));
            }
        }
        for d in back {
            moved = true;
            if let Some(quinn_proto::DatagramEvent::ConnectionEvent(_, e)) =
                self.client_ep
                    .handle(now, SERVER, None, None, d, &mut self.buf)
            {
                self.client.handle_event(e);
            }
        }
        while let Some(e) = self.client.poll_endpoint_events() {
            if let Some(answer) = self.client_ep.handle_event(self.client_ch, e) {
                self.client.handle_event(answer);
            }
        }
        // The client reads and forgets whatever the server sends.
        while self.client.poll().is_some() {}
        while let Some(id) = self.client.streams().accept(Dir::Uni) {
            self.server_unis.push(id);
        }
        for &id in self.requests.values().chain(&self.server_unis) {
            let mut stream = self.client.recv_stream(id);
            // The chunks borrow the stream: dropped before it, at the semicolon.
            if let Ok(mut chunks) = stream.read(true) {
                while let Ok(Some(_)) = chunks.next(usize::MAX) {}
                let _ = chunks.finalize();
            };
        }
        moved
    }

    fn run(&mut self) {
        for _ in 0..1000 {
            if !self.step() {
                break;
            }
        }
    }

    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        self.run();
        for _ in 0..100 {
            let server = self.server.as_mut().and_then(|(_, s)| s.poll_timeout());
            let next = [server, self.client.poll_timeout()].into_iter().flatten().min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    if let Some((_, s)) = &mut self.server {
                        s.handle_timeout(self.now);
                    }
                    self.client.handle_timeout(self.now);
                    self.run();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn request(&mut self, n: u8) -> Option<StreamId> {
        let n = n % 16;
        if let Some(&id) = self.requests.get(&n) {
            return Some(id);
        }
        let id = self.client.streams().open(Dir::Bi)?;
        self.requests.insert(n, id);
        Some(id)
    }

    fn write(&mut self, id: StreamId, bytes: &[u8], fin: bool) {
        let mut send = self.client.send_stream(id);
        let _ = send.write(bytes);
        if fin {
            let _ = send.finish();
        }
    }

    fn server(&mut self) -> Option<&mut ServerConn> {
        self.server.as_mut().map(|(_, s)| &mut **s)
    }
}

const METHODS: [&str; 5] = ["GET", "POST", "CONNECT", "HEAD", "G T"];
const PATHS: [&str; 4] = ["/", "/a?b", "*", ""];
const NAMES: [&str; 8] = [
    "content-length",
    "x-a",
    ":protocol",
    "te",
    "connection",
    "Upper",
    "cookie",
    ":path",
];
const VALUES: [&str; 6] = ["1", "trailers", "websocket", "", " x", "a\nb"];

fuzz_target!(|input: Input| {
    let (server_tls, client_tls) = tls().clone();
    let config = Config {
        max_streams_bidi: MAX_STREAMS,
        max_content_length: 5000,
        max_header_block: 2048,
        max_field_section_size: 1024,
        ..Config::default()
    };
    let endpoint = Endpoint::new(server_tls, config).unwrap();
    let now = Instant::now();
    let mut client_ep =
        quinn_proto::Endpoint::new(Arc::new(EndpointConfig::default()), None, false, None);
    let crypto = QuicClientConfig::try_from(client_tls).unwrap();
    let (client_ch, client) = client_ep
        .connect(now, ClientConfig::new(Arc::new(crypto)), SERVER, "localhost")
        .unwrap();
    let mut w = World {
        now,
        endpoint,
        server: None,
        client_ep,
        client_ch,
        client,
        requests: HashMap::new(),
        unis: HashMap::new(),
        encoder_stream: None,
        server_unis: Vec::new(),
        seen: HashSet::new(),
        gone: HashSet::new(),
        closed: false,
        buf: Vec::new(),
    };
    w.run();
    assert!(w.server.is_some(), "the handshake completes in memory");
    let mut encoder = Encoder::new(usize::from(input.qpack_capacity));
    if input.control {
        let mut bytes = Vec::new();
        StreamType::CONTROL.encode(&mut bytes);
        let settings = roadrunner_h3::Settings {
            qpack_max_table_capacity: Some(4096),
            qpack_blocked_streams: Some(4),
            ..Default::default()
        };
        frame::encode_settings(&settings, &mut bytes);
        if let Some(id) = w.client.streams().open(Dir::Uni) {
            w.unis.insert(6, id);
            w.write(id, &bytes, false);
        }
        // As if the server's SETTINGS allowed the client a table.
        encoder.apply_settings(&roadrunner_h3::Settings {
            qpack_max_table_capacity: Some(4096),
            qpack_blocked_streams: Some(16),
            ..Default::default()
        });
    }
    for op in input.ops.into_iter().take(64) {
        match op {
            Op::Headers {
                stream,
                method,
                path,
                extra,
                content_length,
                fin,
            } => {
                let Some(id) = w.request(stream) else { continue };
                let method = METHODS[usize::from(method) % METHODS.len()];
                let path = PATHS[usize::from(path) % PATHS.len()];
                let mut fields: Vec<(String, String)> = vec![
                    (":method".into(), method.into()),
                    (":scheme".into(), "https".into()),
                    (":authority".into(), "localhost".into()),
                    (":path".into(), path.into()),
                ];
                if let Some(n) = content_length {
                    fields.push(("content-length".into(), n.to_string()));
                }
                for (n, v) in extra.into_iter().take(8) {
                    fields.push((
                        NAMES[usize::from(n) % NAMES.len()].into(),
                        VALUES[usize::from(v) % VALUES.len()].into(),
                    ));
                }
                let mut section = Vec::new();
                encoder.encode(
                    id.into(),
                    fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
                    &mut section,
                );
                let mut bytes = Vec::new();
                frame::encode_headers(&section, &mut bytes);
                w.write(id, &bytes, fin);
            }
            Op::Data { stream, len, fin } => {
                let Some(id) = w.request(stream) else { continue };
                let mut bytes = Vec::new();
                frame::encode_data(&vec![b'x'; usize::from(len % 4096)], &mut bytes);
                w.write(id, &bytes, fin);
            }
            Op::RequestBytes { stream, bytes, fin } => {
                let Some(id) = w.request(stream) else { continue };
                w.write(id, &bytes, fin);
            }
            Op::Uni {
                stream,
                ty,
                bytes,
                fin,
            } => {
                let n = stream % 6;
                let id = match w.unis.get(&n) {
                    Some(&id) => id,
                    None => {
                        let Some(id) = w.client.streams().open(Dir::Uni) else { continue };
                        w.unis.insert(n, id);
                        let ty = StreamType(u64::from(ty % 5));
                        if ty == StreamType::QPACK_ENCODER {
                            w.encoder_stream.get_or_insert(id);
                        }
                        let mut first = Vec::new();
                        ty.encode(&mut first);
                        w.write(id, &first, false);
                        id
                    }
                };
                w.write(id, &bytes, fin);
            }
            Op::FlushEncoder => {
                let mut bytes = Vec::new();
                encoder.poll_stream(&mut bytes);
                if let Some(id) = w.encoder_stream {
                    w.write(id, &bytes, false);
                }
            }
            Op::ClientReset { stream, code, stop } => {
                let Some(&id) = w.requests.get(&(stream % 16)) else { continue };
                let code = VarInt::from_u32(u32::from(code));
                let _ = w.client.send_stream(id).reset(code);
                if stop {
                    let _ = w.client.recv_stream(id).stop(code);
                }
            }
            Op::Respond {
                stream,
                status,
                body,
                trailers,
            } => {
                let Some(&id) = w.requests.get(&(stream % 16)) else { continue };
                let status = StatusCode::from_u16(100 + status % 500).unwrap_or(StatusCode::OK);
                if let Some(s) = w.server() {
                    let k = u64::from(id);
                    let _ = s.send_response(k, status, &HeaderMap::new(), false);
                    let _ = s.send_data(k, Bytes::from(vec![b'y'; usize::from(body % 8192)]), !trailers);
                    if trailers {
                        let mut t = HeaderMap::new();
                        t.insert("x-t", "1".parse().unwrap());
                        let _ = s.send_trailers(k, &t);
                    }
                }
            }
            Op::Release { stream, len } => {
                let Some(&id) = w.requests.get(&(stream % 16)) else { continue };
                if let Some(s) = w.server() {
                    s.release(id.into(), usize::from(len));
                }
            }
            Op::ServerReset { stream, code } => {
                let Some(&id) = w.requests.get(&(stream % 16)) else { continue };
                if let Some(s) = w.server() {
                    let _ = s.reset(id.into(), roadrunner_h3::ErrorCode(u64::from(code)));
                }
            }
            Op::Shutdown => {
                if let Some(s) = w.server() {
                    s.shutdown();
                }
            }
            Op::Advance { ms } => w.advance(Duration::from_millis(u64::from(ms % 2000))),
        }
        w.run();
    }
    w.advance(Duration::from_secs(1));
    if let Some(s) = w.server() {
        s.close(roadrunner_h3::ErrorCode::H3_NO_ERROR, "done");
        assert!(s.is_closed());
    }
    w.advance(Duration::from_secs(10));
    if let Some((_, s)) = &w.server {
        assert!(s.is_drained(), "a closed connection drains");
    }
    assert_eq!(w.endpoint.open_connections(), 0, "the endpoint forgot it");
});
