//! HTTP/3 read deadlines on the deterministic runtime, over simulated UDP: a QUIC
//! client (quinn-proto, driven by hand) that keeps its connection alive with PINGs, so
//! that only the server's own deadlines can end it. Each test asserts the exact virtual
//! instant of the server's CONNECTION_CLOSE (H3_NO_ERROR): `request_timeout` for a
//! fresh connection and for a HEADERS frame left unfinished, `keep_alive_timeout` once
//! served; and the instant an idle connection hibernates.

mod hibernations;
mod kinds;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use roadrunner_core::runtime::{DatagramSocket, RecvMeta, Runtime, Transmit};
use roadrunner_core::sim::{listen, Sim, SimNetwork, SimUdpSocket};
use roadrunner_core::{
    Http1Options, Http3Options, Listener, Options, Protocol, Request, Route, Routes,
};
use roadrunner_h3::qpack::{Decoder, DecoderConfig, Encoder};
use roadrunner_h3::quinn_proto::{
    self as proto, ClientConfig, ConnectionError, ConnectionHandle, DatagramEvent, Dir,
    EndpointConfig, StreamId, TransportConfig,
};
use roadrunner_h3::{frame, StreamType};
use roadrunner_tests::unique_name;

use hibernations::Hibernations;

const SERVER: &str = "192.0.2.1:443";
const CLIENT: &str = "198.51.100.1:0";
/// H3_NO_ERROR.
const NO_ERROR: u64 = 0x100;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// HTTP/3 with `request_timeout` 400 ms and `keep_alive_timeout` 250 ms, then `f`'s
/// changes, on one simulated UDP socket.
fn start(
    sim: &Sim,
    net: &SimNetwork,
    kit: &kinds::TlsKit,
    f: impl FnOnce(&mut Options),
) -> Listener {
    let routes = Routes::list([
        Route::get("/", |_req: Request| async { "hi" }),
        Route::get("/think", |req: Request| {
            let nap = roadrunner_core::RequestExt::sleep(&req, ms(3000));
            async move {
                nap.await;
                "thought"
            }
        }),
    ]);
    let mut o = Options::new(0, routes);
    o.tls = Some(kit.server.clone());
    o.protocols = vec![
        Protocol::Http1(Http1Options::default()),
        Protocol::Http3(Http3Options {
            listeners: 1,
            ..Http3Options::default()
        }),
    ];
    o.request_timeout = ms(400);
    o.keep_alive_timeout = ms(250);
    o.min_bytes_per_second = 0;
    f(&mut o);
    let socket = net.bind(SERVER.parse().expect("address")).expect("bind");
    let (acceptor, _connector) = listen();
    Listener::start_with_datagrams(&unique_name("sim-h3"), o, sim.clone(), move |_| {
        Ok((acceptor, vec![socket]))
    })
    .expect("listener starts")
}

/// A simulation serving as [`start`] says, and a client connecting to it.
fn pair(f: impl FnOnce(&mut Options)) -> (Sim, Listener, Client) {
    let sim = Sim::new();
    let net = SimNetwork::new(&sim);
    let kit = kinds::tls_kit();
    let listener = start(&sim, &net, &kit, f);
    let client = Client::connect(&sim, &net, &kit);
    (sim, listener, client)
}

/// A QUIC client speaking just enough HTTP/3 to send requests and read responses.
struct Client {
    sim: Sim,
    socket: SimUdpSocket,
    endpoint: proto::Endpoint,
    ch: ConnectionHandle,
    conn: proto::Connection,
    encoder: Encoder,
    /// Per request stream: the response bytes (frames undecoded) and whether it ended.
    responses: Vec<(StreamId, Vec<u8>, bool)>,
    /// How the connection ended, and when.
    lost: Option<(ConnectionError, Duration)>,
    out: Vec<u8>,
}

impl Client {
    /// Starts the handshake; QUIC PINGs every 50 ms keep the connection alive as far
    /// as QUIC is concerned.
    fn connect(sim: &Sim, net: &SimNetwork, kit: &kinds::TlsKit) -> Client {
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
    fn step(&mut self) {
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
    async fn run_until(&mut self, mut done: impl FnMut(&Client) -> bool) {
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
                    let data = BytesMut::from(&buf[..meta.len]);
                    let mut answer = Vec::new();
                    if let Some(DatagramEvent::ConnectionEvent(_, event)) =
                        self.endpoint
                            .handle(now, meta.addr, None, None, data, &mut answer)
                    {
                        self.conn.handle_event(event);
                    }
                }
                Some(Err(e)) => panic!("simulated receive: {e}"),
                None => self.conn.handle_timeout(now),
            }
        }
    }

    /// Opens a request stream and writes `frame` on it (and its end if `fin`).
    fn send(&mut self, frame: &[u8], fin: bool) -> StreamId {
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
    fn get(&mut self, stream: u64, path: &str) -> Vec<u8> {
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

    fn answered(&self, id: StreamId) -> bool {
        self.responses
            .iter()
            .any(|(i, bytes, ended)| *i == id && *ended && !bytes.is_empty())
    }

    /// The application error code the server closed with, and when.
    fn closed(&self) -> (u64, Duration) {
        match &self.lost {
            Some((ConnectionError::ApplicationClosed(close), at)) => {
                (close.error_code.into_inner(), *at)
            }
            other => panic!("not closed by the server's application: {other:?}"),
        }
    }
}

/// The QUIC stream ID the next bidirectional stream of a client gets.
fn next_bidi(n: u64) -> u64 {
    4 * n
}

#[test]
fn a_fresh_connection_without_a_request_closes_at_request_timeout() {
    let (sim, _listener, mut client) = pair(|_| {});
    sim.block_on(client.run_until(|_| false));
    assert_eq!(client.closed(), (NO_ERROR, ms(400)), "request_timeout");
}

#[test]
fn a_served_connection_closes_at_keep_alive_timeout_despite_pings() {
    let (sim, _listener, mut client) = pair(|_| {});
    let served_at = sim.block_on(async {
        client.run_until(|c| !c.conn.is_handshaking()).await;
        sim.sleep(ms(100)).await;
        let headers = client.get(next_bidi(0), "/");
        let id = client.send(&headers, true);
        client.run_until(|c| c.answered(id)).await;
        let served_at = sim.elapsed();
        client.run_until(|_| false).await;
        served_at
    });
    assert_eq!(served_at, ms(100), "answered at once");
    assert_eq!(
        client.closed(),
        (NO_ERROR, ms(350)),
        "keep_alive_timeout once served"
    );
}

#[test]
fn a_handler_thinking_past_every_deadline_is_not_cut_off() {
    let (sim, _listener, mut client) = pair(|_| {});
    let id = sim.block_on(async {
        client.run_until(|c| !c.conn.is_handshaking()).await;
        let headers = client.get(next_bidi(0), "/think");
        let id = client.send(&headers, true);
        client.run_until(|_| false).await;
        id
    });
    assert!(client.answered(id));
    assert_eq!(
        client.closed(),
        (NO_ERROR, ms(3250)),
        "answered at 3 s, then keep-alive"
    );
}

#[test]
fn a_headers_frame_left_unfinished_closes_at_request_timeout() {
    let (sim, _listener, mut client) = pair(|o| o.keep_alive_timeout = ms(60_000));
    let (first, second) = sim.block_on(async {
        client.run_until(|c| !c.conn.is_handshaking()).await;
        let headers = client.get(next_bidi(0), "/");
        let first = client.send(&headers, true);
        client.run_until(|c| c.answered(first)).await;
        sim.sleep(ms(100)).await;
        // The frame's type and length, and only part of the section it announces.
        let headers = client.get(next_bidi(1), "/");
        let second = client.send(&headers[..headers.len() - 2], false);
        client.run_until(|_| false).await;
        (first, second)
    });
    assert!(client.answered(first));
    assert!(!client.answered(second));
    assert_eq!(
        client.closed(),
        (NO_ERROR, ms(500)),
        "request_timeout from the HEADERS"
    );
}

#[test]
fn an_idle_connection_hibernates_after_hibernate_after_and_serves_on() {
    let (sim, _listener, mut client) = pair(|o| {
        o.keep_alive_timeout = ms(60_000);
        o.hibernate_after = Some(ms(50));
    });
    let (seen, _scope) = Hibernations::record(&sim);
    let peer = client.socket.local_addr().expect("address");
    let (idle_from, second, idle_again) = sim.block_on(async {
        client.run_until(|c| !c.conn.is_handshaking()).await;
        let headers = client.get(next_bidi(0), "/");
        let first = client.send(&headers, true);
        client.run_until(|c| c.answered(first)).await;
        let idle_from = sim.elapsed();
        client
            .run_until(|c| c.sim.elapsed() >= idle_from + ms(300))
            .await;
        let headers = client.get(next_bidi(1), "/");
        let second = client.send(&headers, true);
        client.run_until(|c| c.answered(second)).await;
        let idle_again = sim.elapsed();
        client
            .run_until(|c| c.sim.elapsed() >= idle_again + ms(300))
            .await;
        (idle_from, second, idle_again)
    });
    assert!(client.answered(second), "served after hibernating");
    assert!(client.lost.is_none(), "still open: {:?}", client.lost);
    assert_eq!(
        seen.of(peer),
        [idle_from + ms(50), idle_again + ms(50)],
        "once per idle stretch, hibernate_after into it"
    );
}

/// The client itself: what it sends is read as a request, and it reads the answer.
#[test]
fn the_client_is_answered() {
    let (sim, _listener, mut client) = pair(|_| {});
    let id = sim.block_on(async {
        client.run_until(|c| !c.conn.is_handshaking()).await;
        let headers = client.get(next_bidi(0), "/");
        assert_eq!(headers[0], 0x01);
        let id = client.send(&headers, true);
        client.run_until(|c| c.answered(id)).await;
        id
    });
    let (_, bytes, _) = client
        .responses
        .iter()
        .find(|(i, ..)| *i == id)
        .expect("the response");
    let body = Bytes::copy_from_slice(bytes);
    assert!(body.ends_with(b"hi"), "{body:?}");
    assert_eq!(u64::from(id), next_bidi(0));
}
