//! WebSocket sessions end to end against independent clients: `tokio-tungstenite`
//! (HTTP/1.1), Python's `websockets` (HTTP/1.1 with permessage-deflate, through
//! `tests/py/ws_client.py`), and an RFC 8441 client on the `h2` crate (WebSocket over
//! HTTP/2, the frames written here); plus handshake refusals on a raw socket, the
//! mailbox, and counters.

mod ws_frames;

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use roadrunner_core::http::{Method, Request as HttpRequest, StatusCode};
use roadrunner_core::websocket::{websocket, Mailbox, Message, WebSocket, WsConfig, WsEvent};
use roadrunner_core::{Http1Options, Http2Options, Options, Protocol, Request, Route, Routes};
use roadrunner_tests::{both, opts, Adapter, Raw, Server};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use ws_frames::{client_frame, server_frame};

/// Where the `/mailbox` session leaves its mailbox for the test to use.
type MailboxSlot = Arc<Mutex<Option<Mailbox<String>>>>;

async fn echo(_req: Request, mut ws: WebSocket) {
    while let Some(event) = ws.next().await {
        let reply = match event {
            WsEvent::Text(text) => Message::Text(text),
            WsEvent::Binary(data) => Message::Binary(data),
            _ => continue,
        };
        if ws.send(reply).await.is_err() {
            break;
        }
    }
}

fn routes(slot: MailboxSlot) -> Routes {
    Routes::list([
        Route::new("/ws", websocket(WsConfig::default(), echo))
            .methods([Method::GET, Method::CONNECT]),
        Route::get(
            "/chat",
            websocket(
                WsConfig {
                    protocols: vec!["v2.chat".into(), "v1.chat".into()],
                    ..WsConfig::default()
                },
                |_req: Request, mut ws: WebSocket| async move {
                    let chosen = ws.protocol().unwrap_or("none").to_owned();
                    let _ = ws.send(chosen).await;
                    while ws.next().await.is_some() {}
                },
            ),
        ),
        Route::get(
            "/mailbox",
            websocket(
                WsConfig::default(),
                move |_req: Request, mut ws: WebSocket<String>| {
                    let slot = slot.clone();
                    async move {
                        *slot.lock().unwrap() = Some(ws.mailbox());
                        let _ = ws.send("ready").await;
                        while let Some(event) = ws.next().await {
                            if let WsEvent::Message(msg) = event {
                                let _ = ws.send(format!("from another task: {msg}")).await;
                            }
                        }
                    }
                },
            ),
        ),
    ])
}

fn start(adapter: Adapter, protocols: Vec<Protocol>) -> (Server, MailboxSlot) {
    let slot = MailboxSlot::default();
    let mut o: Options = opts(routes(slot.clone()));
    o.protocols = protocols;
    (Server::start(adapter, o), slot)
}

fn client_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime")
}

both!(
    tungstenite_echoes_text_and_binary_and_closes_cleanly,
    |adapter| {
        let (s, _) = start(adapter, vec![Protocol::Http1(Http1Options::default())]);
        client_rt().block_on(async {
            let url = format!("ws://127.0.0.1:{}/ws", s.port());
            let (mut ws, resp) = tokio_tungstenite::connect_async(url)
                .await
                .expect("handshake");
            assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
            ws.send(WsMessage::text("hello")).await.expect("send");
            assert_eq!(
                ws.next().await.expect("echo").expect("frame"),
                WsMessage::text("hello")
            );
            let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
            ws.send(WsMessage::binary(big.clone())).await.expect("send");
            assert_eq!(
                ws.next().await.expect("echo").expect("frame"),
                WsMessage::binary(big)
            );
            ws.send(WsMessage::Ping(Bytes::from_static(b"hi")))
                .await
                .expect("ping");
            assert_eq!(
                ws.next().await.expect("pong").expect("frame"),
                WsMessage::Pong(Bytes::from_static(b"hi"))
            );
            ws.close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "bye".into(),
            }))
            .await
            .expect("close");
            let answer = ws.next().await.expect("close answer").expect("frame");
            let WsMessage::Close(Some(frame)) = answer else {
                panic!("{answer:?}")
            };
            assert_eq!(frame.code, CloseCode::Normal);
            assert!(
                ws.next().await.is_none(),
                "the server closed the connection"
            );
        });
    }
);

both!(
    a_subprotocol_is_chosen_by_the_servers_preference,
    |adapter| {
        let (s, _) = start(adapter, vec![Protocol::Http1(Http1Options::default())]);
        client_rt().block_on(async {
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            let mut req = format!("ws://127.0.0.1:{}/chat", s.port())
                .into_client_request()
                .expect("request");
            req.headers_mut().insert(
                "sec-websocket-protocol",
                "v1.chat, v2.chat".parse().expect("value"),
            );
            let (mut ws, resp) = tokio_tungstenite::connect_async(req)
                .await
                .expect("handshake");
            assert_eq!(resp.headers()["sec-websocket-protocol"], "v2.chat");
            assert_eq!(
                ws.next().await.expect("message").expect("frame"),
                WsMessage::text("v2.chat")
            );
        });
    }
);

both!(
    a_session_gets_messages_from_other_tasks_through_its_mailbox,
    |adapter| {
        let (s, slot) = start(adapter, vec![Protocol::Http1(Http1Options::default())]);
        client_rt().block_on(async {
            let url = format!("ws://127.0.0.1:{}/mailbox", s.port());
            let (mut ws, _) = tokio_tungstenite::connect_async(url)
                .await
                .expect("handshake");
            assert_eq!(
                ws.next().await.expect("ready").expect("frame"),
                WsMessage::text("ready")
            );
            let mailbox = slot
                .lock()
                .unwrap()
                .clone()
                .expect("the session left its mailbox");
            std::thread::spawn(move || smol::block_on(mailbox.send("ping".into())).expect("sent"))
                .join()
                .expect("sender");
            assert_eq!(
                ws.next().await.expect("message").expect("frame"),
                WsMessage::text("from another task: ping")
            );
            drop(ws);
        });
        // The session ends with its client; its mailbox says so.
        let mailbox = slot.lock().unwrap().clone().expect("mailbox");
        roadrunner_tests::wait_until(roadrunner_tests::SAFETY_NET, || mailbox.is_closed());
        assert!(mailbox.is_closed());
    }
);

both!(a_bad_handshake_is_refused_with_its_status, |adapter| {
    let (s, _) = start(adapter, vec![Protocol::Http1(Http1Options::default())]);
    let mut raw = Raw::connect(s.port());
    raw.send(
        "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n\r\n",
    );
    let r = raw.response();
    assert_eq!(r.status, 426);
    assert_eq!(r.header("sec-websocket-version"), Some("13"));
    raw.send(
        "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert_eq!(raw.response().status, 400);
});

both!(
    python_websockets_echoes_with_permessage_deflate,
    |adapter| {
        let (s, _) = start(adapter, vec![Protocol::Http1(Http1Options::default())]);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/ws_client.py");
        let out = Command::new("python3")
            .arg(&script)
            .arg(format!("ws://127.0.0.1:{}/ws", s.port()))
            .stdin(Stdio::null())
            .output()
            .expect("python3 runs (.ci/run installs it)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("No module named 'websockets'"),
            "python3 has no `websockets`: `python3 -m pip install websockets` (.ci/run does)"
        );
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert_eq!(
            stdout.lines().collect::<Vec<_>>(),
            [
                "extensions permessage-deflate",
                "text héllo",
                "binary 1000000 True",
                "pong ok",
                "close 1000",
            ]
        );
    }
);

both!(websocket_over_http2_by_extended_connect, |adapter| {
    let (s, _) = start(adapter, vec![Protocol::Http2(Http2Options::default())]);
    client_rt().block_on(async {
        let tcp = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, s.port()))
            .await
            .expect("connect");
        let (client, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
        tokio::spawn(conn);
        // A first exchange, so that the server's SETTINGS have been read.
        let mut client = client.ready().await.expect("ready");
        let probe = HttpRequest::get("http://localhost/nowhere")
            .body(())
            .expect("GET");
        let (resp, _) = client.send_request(probe, true).expect("GET");
        resp.await.expect("answer");
        let mut client = client.ready().await.expect("ready");
        assert!(client.is_extended_connect_protocol_enabled());

        let mut req = HttpRequest::builder()
            .method(Method::CONNECT)
            .uri("http://localhost/ws")
            .header("sec-websocket-version", "13")
            .body(())
            .expect("CONNECT");
        req.extensions_mut()
            .insert(h2::ext::Protocol::from_static("websocket"));
        let (resp, mut send) = client.send_request(req, false).expect("CONNECT");
        let resp = resp.await.expect("answer");
        assert_eq!(resp.status(), StatusCode::OK);
        let mut body = resp.into_body();
        let mut wire = BytesMut::new();
        let mut next_frame = async || loop {
            if let Some(frame) = server_frame(&mut wire) {
                return frame;
            }
            let chunk = body.data().await.expect("more").expect("data");
            let _ = body.flow_control().release_capacity(chunk.len());
            wire.extend_from_slice(&chunk);
        };
        send.send_data(client_frame(0x1, "über h2".as_bytes()), false)
            .expect("text");
        assert_eq!(next_frame().await, (0x1, "über h2".as_bytes().to_vec()));
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        send.send_data(client_frame(0x2, &big), false)
            .expect("binary");
        assert_eq!(next_frame().await, (0x2, big));
        send.send_data(client_frame(0x8, &1000u16.to_be_bytes()), false)
            .expect("close");
        assert_eq!(next_frame().await, (0x8, 1000u16.to_be_bytes().to_vec()));
    });
});
