//! The client side of the pair: a quinn-proto connection with just enough HTTP/3 on
//! top, made of this crate's frames and QPACK, to send requests (well-formed or not)
//! and read responses.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use roadrunner_h3::bytes::{Bytes, BytesMut};
use roadrunner_h3::qpack::{Decoder, DecoderConfig, Encoder};
use roadrunner_h3::quinn_proto::crypto::rustls::QuicClientConfig;
use roadrunner_h3::quinn_proto::{
    self, ClientConfig, Connection, ConnectionError, ConnectionHandle, Dir, EndpointConfig,
    ReadError, StreamEvent, StreamId, TransportConfig, VarInt, WriteError,
};
use roadrunner_h3::rustls;
use roadrunner_h3::{frame, Frame, FrameDecoder, Settings, Side, StreamKind, StreamType};

use super::SERVER;

/// How much of one response the client lets the server send ahead of its reading.
pub const CLIENT_STREAM_WINDOW: u32 = 64 * 1024;

/// What the client opens once connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// Its control stream with SETTINGS, and its QPACK encoder and decoder streams.
    Full,
    /// Nothing: the test opens what it wants.
    Bare,
}

/// What came back on one request stream.
#[derive(Debug)]
pub struct Response {
    /// Decoded field sections: informational heads, the final head, trailers.
    pub sections: Vec<Vec<(String, String)>>,
    pub body: Vec<u8>,
    /// The server ended the stream.
    pub fin: bool,
    /// The server reset the stream, with this code.
    pub reset: Option<u64>,
    /// The server asked us to stop sending, with this code.
    pub stopped: Option<u64>,
    frames: FrameDecoder,
    buf: BytesMut,
    /// A section waits for inserts on the server's encoder stream.
    blocked: bool,
}

impl Response {
    fn new() -> Self {
        Response {
            sections: Vec::new(),
            body: Vec::new(),
            fin: false,
            reset: None,
            stopped: None,
            frames: FrameDecoder::new(StreamKind::Request, Side::Client, 1 << 20),
            buf: BytesMut::new(),
            blocked: false,
        }
    }

    /// The final status, if the head has come.
    pub fn status(&self) -> Option<u16> {
        self.sections.iter().find_map(|s| {
            let status: u16 = s.iter().find(|(n, _)| n == ":status")?.1.parse().ok()?;
            (status >= 200).then_some(status)
        })
    }

    /// The value of field `name` in the final head.
    pub fn header(&self, name: &str) -> Option<&str> {
        let head = self
            .sections
            .iter()
            .find(|s| s.iter().any(|(n, v)| n == ":status" && !v.starts_with('1')))?;
        head.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the whole response is in: ended, and nothing left undecoded.
    pub fn complete(&self) -> bool {
        self.fin && !self.blocked
    }
}

/// A peer unidirectional stream: its type once known, and what is not processed yet.
struct UniIn {
    ty: Option<StreamType>,
    buf: BytesMut,
    frames: FrameDecoder,
}

/// The client.
pub struct Client {
    pub endpoint: quinn_proto::Endpoint,
    pub ch: ConnectionHandle,
    pub conn: Connection,
    pub setup: Setup,
    pub encoder: Encoder,
    pub decoder: Decoder,
    pub connected: bool,
    /// Keeps our encoder's instructions back (to make the server wait for them).
    pub hold_encoder: bool,
    /// Reads no response data (to make the server wait on our flow control).
    pub pause_reading: bool,
    pub lost: Option<ConnectionError>,
    pub server_settings: Option<Settings>,
    pub goaway: Option<u64>,
    /// Our unidirectional streams the server stopped, with its codes.
    pub stopped_uni: Vec<(StreamId, u64)>,
    /// Responses by request stream ID.
    pub responses: HashMap<u64, Response>,
    control: Option<StreamId>,
    encoder_stream: Option<StreamId>,
    decoder_stream: Option<StreamId>,
    uni: HashMap<StreamId, UniIn>,
    /// Bytes to write, per stream, and whether the stream ends after them.
    out: HashMap<StreamId, (VecDeque<Bytes>, bool)>,
}

impl Client {
    /// A client that has sent its first flight to the server.
    pub fn connect(now: Instant, tls: Arc<rustls::ClientConfig>, setup: Setup) -> Self {
        let mut endpoint =
            quinn_proto::Endpoint::new(Arc::new(EndpointConfig::default()), None, false, None);
        let crypto = QuicClientConfig::try_from(tls).expect("QUIC client TLS");
        let mut config = ClientConfig::new(Arc::new(crypto));
        let mut transport = TransportConfig::default();
        transport
            .stream_receive_window(VarInt::from_u32(CLIENT_STREAM_WINDOW))
            .receive_window(VarInt::from_u32(4 * CLIENT_STREAM_WINDOW));
        config.transport_config(Arc::new(transport));
        let (ch, conn) = endpoint
            .connect(now, config, SERVER, "localhost")
            .expect("connect");
        Client {
            endpoint,
            ch,
            conn,
            setup,
            encoder: Encoder::new(4096),
            decoder: Decoder::new(DecoderConfig::default()),
            connected: false,
            hold_encoder: false,
            pause_reading: false,
            lost: None,
            server_settings: None,
            goaway: None,
            stopped_uni: Vec::new(),
            responses: HashMap::new(),
            control: None,
            encoder_stream: None,
            decoder_stream: None,
            uni: HashMap::new(),
            out: HashMap::new(),
        }
    }

    /// A datagram from the server.
    pub fn receive(&mut self, now: Instant, datagram: Vec<u8>) {
        let data = BytesMut::from(&datagram[..]);
        let mut buf = Vec::new();
        // A client endpoint answers nothing by itself here (no stateless resets: the
        // one connection lives as long as the test).
        if let Some(quinn_proto::DatagramEvent::ConnectionEvent(_, event)) = self
            .endpoint
            .handle(now, SERVER, None, None, data, &mut buf)
        {
            self.conn.handle_event(event);
        }
        while let Some(e) = self.conn.poll_endpoint_events() {
            if let Some(back) = self.endpoint.handle_event(self.ch, e) {
                self.conn.handle_event(back);
            }
        }
    }

    /// Opens a request stream and writes `fields` as its HEADERS, `body` as one DATA
    /// frame (if not empty), and the end of the stream if `fin`.
    pub fn send_request(&mut self, fields: &[(String, String)], body: &[u8], fin: bool) -> u64 {
        let id = self.open_request();
        let mut data = self.headers_frame(id, fields);
        if !body.is_empty() {
            frame::encode_data(body, &mut data);
        }
        self.write(id, data, fin);
        id.into()
    }

    /// Opens a request stream and nothing more.
    pub fn open_request(&mut self) -> StreamId {
        let id = self
            .conn
            .streams()
            .open(Dir::Bi)
            .expect("a request stream allowed");
        self.responses.insert(id.into(), Response::new());
        id
    }

    /// A HEADERS frame with `fields` encoded for stream `id` (inserts queued for our
    /// encoder stream).
    pub fn headers_frame(&mut self, id: StreamId, fields: &[(String, String)]) -> Vec<u8> {
        let mut section = Vec::new();
        self.encoder.encode(
            id.into(),
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            &mut section,
        );
        let mut frame = Vec::new();
        frame::encode_headers(&section, &mut frame);
        frame
    }

    /// Queues `bytes` on stream `id`, then its end if `fin`.
    pub fn write(&mut self, id: StreamId, bytes: impl Into<Bytes>, fin: bool) {
        let entry = self.out.entry(id).or_default();
        let bytes = bytes.into();
        if !bytes.is_empty() {
            entry.0.push_back(bytes);
        }
        entry.1 |= fin;
    }

    /// Writes `bytes` on the request stream `stream`.
    pub fn write_request(&mut self, stream: u64, bytes: impl Into<Bytes>, fin: bool) {
        self.write(request_id(stream), bytes, fin);
    }

    /// Bytes still waiting to be taken by QUIC on `stream`.
    pub fn unsent(&self, stream: u64) -> usize {
        self.out
            .get(&request_id(stream))
            .map_or(0, |(q, _)| q.iter().map(Bytes::len).sum())
    }

    /// Opens a unidirectional stream carrying `bytes`.
    pub fn open_uni(&mut self, bytes: impl Into<Bytes>, fin: bool) -> StreamId {
        let id = self
            .conn
            .streams()
            .open(Dir::Uni)
            .expect("a uni stream allowed");
        self.write(id, bytes, fin);
        id
    }

    /// Resets our half of request `stream` (and stops reading the response if `stop`).
    pub fn reset(&mut self, stream: u64, code: u64, stop: bool) {
        let id = request_id(stream);
        self.out.remove(&id);
        let code = VarInt::from_u64(code).expect("code");
        let _ = self.conn.send_stream(id).reset(code);
        if stop {
            let _ = self.conn.recv_stream(id).stop(code);
        }
    }

    /// The control stream's bytes for our SETTINGS.
    pub fn settings_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        StreamType::CONTROL.encode(&mut bytes);
        frame::encode_settings(&self.decoder.settings(), &mut bytes);
        bytes
    }

    /// QUIC's events and the streams' data, then what we owe the server written.
    pub fn drive(&mut self) {
        while let Some(event) = self.conn.poll() {
            match event {
                quinn_proto::Event::Connected => {
                    self.connected = true;
                    if self.setup == Setup::Full {
                        let settings = self.settings_bytes();
                        self.control = Some(self.open_uni(settings, false));
                        let mut enc = Vec::new();
                        StreamType::QPACK_ENCODER.encode(&mut enc);
                        self.encoder_stream = Some(self.open_uni(enc, false));
                        let mut dec = Vec::new();
                        StreamType::QPACK_DECODER.encode(&mut dec);
                        self.decoder_stream = Some(self.open_uni(dec, false));
                    }
                }
                quinn_proto::Event::ConnectionLost { reason } => self.lost = Some(reason),
                quinn_proto::Event::Stream(StreamEvent::Stopped { id, error_code }) => {
                    match self.responses.get_mut(&u64::from(id)) {
                        Some(r) => r.stopped = Some(error_code.into_inner()),
                        None => self.stopped_uni.push((id, error_code.into_inner())),
                    }
                    self.out.remove(&id);
                }
                _ => {}
            }
        }
        while let Some(id) = self.conn.streams().accept(Dir::Uni) {
            self.uni.insert(
                id,
                UniIn {
                    ty: None,
                    buf: BytesMut::new(),
                    frames: FrameDecoder::new(StreamKind::Control, Side::Client, 1 << 20),
                },
            );
        }
        let ids: Vec<StreamId> = self.uni.keys().copied().collect();
        for id in ids {
            self.read_uni(id);
        }
        if !self.pause_reading {
            let ids: Vec<u64> = self.responses.keys().copied().collect();
            for id in ids {
                self.read_response(id);
            }
        }
        if let Some(id) = self.encoder_stream.filter(|_| !self.hold_encoder) {
            let mut bytes = Vec::new();
            self.encoder.poll_stream(&mut bytes);
            self.write(id, bytes, false);
        }
        if let Some(id) = self.decoder_stream {
            let mut bytes = Vec::new();
            self.decoder.poll_stream(&mut bytes);
            self.write(id, bytes, false);
        }
        self.flush();
    }

    fn flush(&mut self) {
        for (id, (queue, fin)) in self.out.iter_mut() {
            let mut send = self.conn.send_stream(*id);
            while let Some(front) = queue.front_mut() {
                match send.write(front) {
                    Ok(n) => {
                        let _ = front.split_to(n);
                        if front.is_empty() {
                            queue.pop_front();
                        }
                    }
                    Err(WriteError::Blocked) => break,
                    Err(_) => {
                        queue.clear();
                        *fin = false;
                    }
                }
            }
            if queue.is_empty() && *fin {
                let _ = send.finish();
                *fin = false;
            }
        }
        self.out.retain(|_, (q, fin)| !q.is_empty() || *fin);
    }

    fn read(conn: &mut Connection, id: StreamId, buf: &mut BytesMut) -> Option<Result<(), u64>> {
        let mut stream = conn.recv_stream(id);
        let mut chunks = stream.read(true).ok()?;
        let end = loop {
            match chunks.next(usize::MAX) {
                Ok(Some(chunk)) => buf.extend_from_slice(&chunk.bytes),
                Ok(None) => break Some(Ok(())),
                Err(ReadError::Blocked) => break None,
                Err(ReadError::Reset(code)) => break Some(Err(code.into_inner())),
            }
        };
        let _ = chunks.finalize();
        end
    }

    fn read_uni(&mut self, id: StreamId) {
        let Some(u) = self.uni.get_mut(&id) else {
            return;
        };
        let _ = Self::read(&mut self.conn, id, &mut u.buf);
        if u.ty.is_none() {
            u.ty = StreamType::decode(&mut u.buf);
        }
        match u.ty {
            Some(StreamType::CONTROL) => {
                while let Some(f) = u.frames.decode(&mut u.buf).expect("server control frames") {
                    match f {
                        Frame::Settings(s) => {
                            self.encoder.apply_settings(&s);
                            self.server_settings = Some(s);
                        }
                        Frame::GoAway { id } => self.goaway = Some(id),
                        _ => {}
                    }
                }
            }
            Some(StreamType::QPACK_ENCODER) => {
                let data = u.buf.split();
                self.decoder
                    .feed_encoder_stream(&data)
                    .expect("server encoder stream");
                while let Some((stream, fields)) = self.decoder.poll_unblocked() {
                    let fields = fields.expect("server field section");
                    if let Some(r) = self.responses.get_mut(&stream) {
                        r.blocked = false;
                        r.sections.push(strings(fields.fields()));
                    }
                    self.read_response(stream);
                }
            }
            Some(StreamType::QPACK_DECODER) => {
                let data = u.buf.split();
                self.encoder
                    .feed_decoder_stream(&data)
                    .expect("server decoder stream");
            }
            _ => u.buf.clear(),
        }
    }

    fn read_response(&mut self, stream: u64) {
        let Some(r) = self.responses.get_mut(&stream) else {
            return;
        };
        if r.reset.is_some() {
            return;
        }
        if !r.fin {
            match Self::read(&mut self.conn, request_id(stream), &mut r.buf) {
                Some(Err(code)) => {
                    r.reset = Some(code);
                    return;
                }
                Some(Ok(())) => r.fin = true,
                None => {}
            }
        }
        while !r.blocked {
            let Some(f) = r.frames.decode(&mut r.buf).expect("response frames") else {
                break;
            };
            match f {
                Frame::Headers(section) => match self.decoder.decode(stream, section) {
                    Ok(Some(fields)) => r.sections.push(strings(fields.fields())),
                    Ok(None) => r.blocked = true,
                    Err(e) => panic!("response section: {e}"),
                },
                Frame::DataChunk(data) => r.body.extend_from_slice(&data),
                _ => {}
            }
        }
    }
}

/// The stream ID of request stream `stream`.
pub fn request_id(stream: u64) -> StreamId {
    assert_eq!(stream % 4, 0, "client-initiated bidirectional");
    StreamId::new(quinn_proto::Side::Client, Dir::Bi, stream / 4)
}

fn strings(fields: &[(Bytes, Bytes)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}
