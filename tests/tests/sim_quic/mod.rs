//! A QUIC client on the simulated network, driven by hand on quinn-proto, speaking
//! just enough HTTP/3 to send requests and read their responses (frames undecoded).
//! Its QUIC PINGs keep the connection alive, so only the server's own deadlines end it.

// Each test file that includes this module uses a part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use roadrunner_core::runtime::{DatagramSocket, RecvMeta, Runtime, Transmit};
use roadrunner_core::sim::{listen, Sim, SimNetwork, SimUdpSocket};
use roadrunner_core::{Http1Options, Http3Options, Listener, Options, Protocol, Routes};
use roadrunner_h3::qpack::{Decoder, DecoderConfig, Encoder};
use roadrunner_h3::quinn_proto::{
    self as proto, ClientConfig, ConnectionError, ConnectionHandle, DatagramEvent, Dir,
    EndpointConfig, StreamId, TransportConfig,
};
use roadrunner_h3::{frame, StreamType};

use roadrunner_tests::unique_name;

use crate::kinds::TlsKit;

/// The server's address.
pub const SERVER: &str = "192.0.2.1:443";
/// The client binds here (a free port).
const CLIENT: &str = "198.51.100.1:0";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A listener serving `routes` over HTTP/3 (and HTTP/1.1, which it requires beside)
/// on one simulated UDP socket at [`SERVER`], with `f`'s changes.
pub fn serve(
    sim: &Sim,
    net: &SimNetwork,
    kit: &TlsKit,
    routes: Routes,
    f: impl FnOnce(&mut Options),
) -> Listener {
    let mut o = Options::new(0, routes);
    o.tls = Some(kit.server.clone());
    o.protocols = vec![
        Protocol::Http1(Http1Options::default()),
        Protocol::Http3(Http3Options {
            listeners: 1,
            ..Http3Options::default()
        }),
    ];
    f(&mut o);
    let socket = net.bind(SERVER.parse().expect("address")).expect("bind");
    let (acceptor, _connector) = listen();
    Listener::start_with_datagrams(&unique_name("sim-h3"), o, sim.clone(), move |_| {
        Ok((acceptor, vec![socket]))
    })
    .expect("listener starts")
}

/// A QUIC client speaking just enough HTTP/3 to send requests and read responses.
pub struct Client {
    pub sim: Sim,
    pub socket: SimUdpSocket,
    endpoint: proto::Endpoint,
    ch: ConnectionHandle,
    pub conn: proto::Connection,
    encoder: Encoder,
    /// Per request stream: the response bytes (frames undecoded) and whether it ended.
    pub responses: Vec<(StreamId, Vec<u8>, bool)>,
    /// How the connection ended, and when.
    pub lost: Option<(ConnectionError, Duration)>,
    out: Vec<u8>,
}

impl Client {
    /// Starts the handshake; QUIC PINGs every 50 ms keep the connection alive as far
    /// as QUIC is concerned.
    pub fn connect(sim: &Sim, net: &SimNetwork, kit: &TlsKit) -> Client {
        let mut tls = (*kit.client).clone();
        tls.alpn_protocols = vec![b"h3".to_vec()];
        let crypto = proto::crypto::rustls::QuicClientConfig::try_from(tls).expect("TLS 1.3");
        let mut config = ClientConfig::new(Arc::new(crypto));
        let mut transport = TransportConfig::default();
        transport.keep_alive_interval(Some(ms(50)));
        config.transport_config(Arc::new(transport));
        let mut endpoint =
            proto::Endpoint::new(Arc::new(EndpointConfig::default()), None, false, None);
        let server: SocketAddr = SERVER.parse().expect("address");
        let (ch, conn) = endpoint
            .connect(sim.now(), config, server, "localhost")
            .expect("connect");
        Client {
            sim: sim.clone(),
            socket: net.bind(CLIENT.parse().expect("address")).expect("bind"),
            endpoint,
            ch,
            conn,
            encoder: Encoder::new(0),
            responses: Vec::new(),
            lost: None,
            out: Vec::new(),
        }
    }

    /// Handles QUIC's events and reads responses, then sends what is due.
    pub fn step(&mut self) {
        while let Some(event) = self.conn.poll() {
            match event {
                proto::Event::Connected => {
                    // The control stream with our SETTINGS, which HTTP/3 requires.
                    let mut settings = Vec::new();
                    StreamType::CONTROL.encode(&mut settings);
                    let decoder = Decoder::new(DecoderConfig::default());
                    frame::encode_settings(&decoder.settings(), &mut settings);
                    let id = self.conn.streams().open(Dir::Uni).expect("control");
                    self.conn
                        .send_stream(id)
                        .write(&settings)
                        .expect("SETTINGS fit");
                }
                proto::Event::ConnectionLost { reason } => {
                    self.lost.get_or_insert((reason, self.sim.elapsed()));
                }
                _ => {}
            }
        }
        for (id, bytes, ended) in &mut self.responses {
            let mut stream = self.conn.recv_stream(*id);
            let Ok(mut chunks) = stream.read(true) else {
                continue;
            };
            loop {
                match chunks.next(usize::MAX) {
                    Ok(Some(chunk)) => bytes.extend_from_slice(&chunk.bytes),
                    Ok(None) => {
                        *ended = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            let _ = chunks.finalize();
        }
        let now = self.sim.now();
        while let Some(t) = self.conn.poll_transmit(now, 1, &mut self.out) {
            let transmit = Transmit {
                destination: t.destination,
                ecn: None,
                contents: &self.out[..t.size],
                segment_size: None,
                src_ip: None,
            };
            self.socket
                .try_send(&transmit)
                .expect("the simulated network takes it");
            self.out.clear();
        }
        while let Some(event) = self.conn.poll_endpoint_events() {
            if let Some(back) = self.endpoint.handle_event(self.ch, event) {
                self.conn.handle_event(back);
            }
        }
    }

    /// Drives the connection until `done` holds, the connection is gone, or a minute
    /// of virtual time has passed (the client's PINGs would go on forever).
    pub async fn run_until(&mut self, mut done: impl FnMut(&Client) -> bool) {
        let mut buf = vec![0u8; 65536];
        loop {
            self.step();
            let gone = self.lost.is_some() && self.conn.is_drained();
            if done(self) || gone || self.sim.elapsed() > Duration::from_secs(60) {
                return;
            }
            let timeout = self.conn.poll_timeout();
            let wait = timeout.map(|at| at.saturating_duration_since(self.sim.now()));
            let recv = std::future::poll_fn(|cx| {
                let mut meta = [RecvMeta::default()];
                self.socket
                    .poll_recv(cx, &mut [std::io::IoSliceMut::new(&mut buf)], &mut meta)
                    .map(|r| r.map(|_| meta[0]))
            });
            let timer = async {
                match wait {
                    Some(d) => self.sim.sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            let got = smol::future::or(async { Some(recv.await) }, async {
                timer.await;
                None
            })
            .await;
            let now = self.sim.now();
            match got {
                Some(Ok(meta)) => {
                    // GRO may have put several datagrams in the buffer.
                    for datagram in meta.datagrams(&buf) {
                        let data = BytesMut::from(datagram);
                        let mut answer = Vec::new();
                        if let Some(DatagramEvent::ConnectionEvent(_, event)) = self
                            .endpoint
                            .handle(now, meta.addr, None, None, data, &mut answer)
                        {
                            self.conn.handle_event(event);
                        }
                    }
                }
                Some(Err(e)) => panic!("simulated receive: {e}"),
                None => self.conn.handle_timeout(now),
            }
        }
    }

    /// Opens a request stream and writes `frame` on it (and its end if `fin`).
    pub fn send(&mut self, frame: &[u8], fin: bool) -> StreamId {
        let id = self.conn.streams().open(Dir::Bi).expect("a request stream");
        let mut send = self.conn.send_stream(id);
        assert_eq!(send.write(frame).expect("write"), frame.len());
        if fin {
            send.finish().expect("finish");
        }
        self.responses.push((id, Vec::new(), false));
        id
    }

    /// A HEADERS frame for `GET path` on request stream `stream`.
    pub fn get(&mut self, stream: u64, path: &str) -> Vec<u8> {
        let fields = [
            (&b":method"[..], &b"GET"[..]),
            (b":scheme", b"https"),
            (b":authority", b"localhost"),
            (b":path", path.as_bytes()),
        ];
        let mut section = Vec::new();
        self.encoder.encode(stream, fields, &mut section);
        let mut frame = Vec::new();
        frame::encode_headers(&section, &mut frame);
        frame
    }

    pub fn answered(&self, id: StreamId) -> bool {
        self.responses
            .iter()
            .any(|(i, bytes, ended)| *i == id && *ended && !bytes.is_empty())
    }

    /// The application error code the server closed with, and when.
    pub fn closed(&self) -> (u64, Duration) {
        match &self.lost {
            Some((ConnectionError::ApplicationClosed(close), at)) => {
                (close.error_code.into_inner(), *at)
            }
            other => panic!("not closed by the server's application: {other:?}"),
        }
    }
}

/// The QUIC stream ID the next bidirectional stream of a client gets.
pub fn next_bidi(n: u64) -> u64 {
    4 * n
}
