//! How the HTTP/3 driver uses the socket, on the deterministic runtime over simulated
//! UDP, whose sockets refuse what the kernel refuses and count what each link carried.

mod kinds;
mod sim_quic;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use roadrunner_core::runtime::DatagramSocket;
use roadrunner_core::sim::{Sent, Sim, SimNetwork, MAX_SEND};
use roadrunner_core::{Request, Route, Routes};

use sim_quic::{next_bidi, Client, SERVER};

const BODY: usize = 1 << 20;

/// Serves `GET /big` to a fresh client over links of one-way `latency`, with the
/// server's send buffer held full for `full` from when the request is sent: the
/// virtual time the response took, and what the server sent.
fn fetch_big(latency: Duration, full: Duration) -> (Duration, Sent) {
    let sim = Sim::new();
    let net = SimNetwork::new(&sim);
    net.set_latency(latency);
    let kit = kinds::tls_kit();
    let routes = Routes::list([Route::get("/big", |_req: Request| async {
        Bytes::from(vec![7u8; BODY])
    })]);
    let _listener = sim_quic::serve(&sim, &net, &kit, routes, |_| {});
    let mut client = Client::connect(&sim, &net, &kit);
    let server: SocketAddr = SERVER.parse().expect("address");
    let (id, took) = sim.block_on(async {
        client.run_until(|c| !c.conn.is_handshaking()).await;
        let headers = client.get(next_bidi(0), "/big");
        let asked = sim.elapsed();
        net.fill_send_buffer(server, full);
        let id = client.send(&headers, true);
        client.run_until(|c| c.answered(id)).await;
        (id, sim.elapsed() - asked)
    });
    let (_, frames, _) = client
        .responses
        .iter()
        .find(|(i, ..)| *i == id)
        .expect("the response");
    assert!(frames.len() > BODY, "{} bytes of frames", frames.len());
    let to_client = client.socket.local_addr().expect("bound");
    (took, net.link(server, to_client).sent())
}

/// A megabyte leaves in GSO sends as large as the kernel takes (one IP packet's
/// payload), not in quinn's batches of 10 datagrams, and none is refused.
#[test]
fn a_large_response_leaves_in_sends_of_up_to_one_ip_packet() {
    // No latency: the pacer lets a whole window go at once.
    let (_, sent) = fetch_big(Duration::ZERO, Duration::ZERO);
    assert_eq!(sent.refused, 0, "{sent:?}");
    assert!(sent.datagrams > BODY / 1500, "{sent:?}");
    // Filled to within one datagram of the limit.
    assert!(
        (MAX_SEND - 1500..=MAX_SEND).contains(&sent.most_bytes),
        "{sent:?}"
    );
    assert!(sent.most_datagrams > 10, "{sent:?}");
}

/// A send the socket cannot take yet is kept and sent once there is room, not lost.
#[test]
fn a_send_the_socket_cannot_take_yet_goes_out_once_it_has_room() {
    let latency = Duration::from_millis(10);
    let (unhindered, _) = fetch_big(latency, Duration::ZERO);
    // Full from before the request arrives until 2 ms after.
    let extra = Duration::from_millis(2);
    let (took, sent) = fetch_big(latency, latency + extra);
    assert!(sent.blocked > 0, "{sent:?}");
    // Losing a send would cost at least a round trip more (to notice the loss), and
    // the shrunken window after it far more.
    let round_trip = 2 * latency;
    assert!(
        took < unhindered + extra + round_trip,
        "{took:?} against {unhindered:?}"
    );
}
