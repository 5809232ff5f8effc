//! HTTP/3 read deadlines on the deterministic runtime, over simulated UDP: a QUIC
//! client (quinn-proto, driven by hand) that keeps its connection alive with PINGs, so
//! that only the server's own deadlines can end it. Each test asserts the exact virtual
//! instant of the server's CONNECTION_CLOSE (H3_NO_ERROR): `request_timeout` for a
//! fresh connection and for a HEADERS frame left unfinished, `keep_alive_timeout` once
//! served; and the instant an idle connection hibernates.

mod hibernations;
mod kinds;
mod sim_quic;

use std::time::Duration;

use bytes::Bytes;
use roadrunner_core::runtime::DatagramSocket;
use roadrunner_core::sim::{Sim, SimNetwork};
use roadrunner_core::{Listener, Options, Request, Route, Routes};

use hibernations::Hibernations;
use sim_quic::{next_bidi, Client};

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
    sim_quic::serve(sim, net, kit, routes, |o| {
        o.request_timeout = ms(400);
        o.keep_alive_timeout = ms(250);
        o.min_bytes_per_second = 0;
        f(o);
    })
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
