use std::future::poll_fn;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use super::*;

const MS: Duration = Duration::from_millis(1);

fn addr(host: u8, port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(192, 0, 2, host), port))
}

fn transmit(to: SocketAddr, contents: &[u8]) -> Transmit<'_> {
    Transmit {
        destination: to,
        ecn: None,
        contents,
        segment_size: None,
        src_ip: None,
    }
}

/// Sends from outside the simulation, which works because a send never waits.
fn send(from: &SimUdpSocket, t: &Transmit<'_>) {
    let mut cx = Context::from_waker(Waker::noop());
    assert!(matches!(from.poll_send(&mut cx, t), Poll::Ready(Ok(()))));
}

/// One receive into `n` buffers of `size` bytes: what each got, or `None` when
/// nothing has arrived.
fn try_recv(sock: &SimUdpSocket, n: usize, size: usize) -> Option<Vec<(RecvMeta, Vec<u8>)>> {
    let mut bufs = vec![vec![0; size]; n];
    let mut meta = vec![RecvMeta::default(); n];
    let mut slices: Vec<_> = bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
    let mut cx = Context::from_waker(Waker::noop());
    let Poll::Ready(filled) = sock.poll_recv(&mut cx, &mut slices, &mut meta) else {
        return None;
    };
    let filled = filled.unwrap();
    assert!((1..=n).contains(&filled));
    let got = meta.iter().zip(&bufs).take(filled);
    Some(got.map(|(m, b)| (*m, b[..m.len].to_vec())).collect())
}

/// Every datagram queued at `sock`, split apart again where GRO joined them.
fn recv_all(sock: &SimUdpSocket) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    while let Some(got) = try_recv(sock, 8, 64 * 1024) {
        for (m, buf) in got {
            all.extend(m.datagrams(&buf).map(<[u8]>::to_vec));
        }
    }
    all
}

/// Waits on the simulation for one datagram.
async fn recv(sock: &SimUdpSocket) -> (RecvMeta, Vec<u8>) {
    let mut buf = vec![0; 1500];
    let mut meta = [RecvMeta::default()];
    let n = poll_fn(|cx| sock.poll_recv(cx, &mut [IoSliceMut::new(&mut buf)], &mut meta))
        .await
        .unwrap();
    assert_eq!(n, 1);
    (meta[0], buf[..meta[0].len].to_vec())
}

/// Sends one-byte datagrams `ids` from `from` to `to`.
fn send_ids(from: &SimUdpSocket, to: SocketAddr, ids: impl IntoIterator<Item = u8>) {
    for id in ids {
        send(from, &transmit(to, &[id]));
    }
}

fn ids(datagrams: Vec<Vec<u8>>) -> Vec<u8> {
    datagrams.into_iter().map(|d| d[0]).collect()
}

#[test]
fn a_datagram_arrives_with_its_contents_source_ecn_and_destination() {
    let sim = Sim::new();
    let net = SimNetwork::new(&sim);
    let a = net.bind(addr(1, 4433)).unwrap();
    let b = net.bind(addr(2, 0)).unwrap();
    let to_b = b.local_addr().unwrap();
    send(
        &a,
        &Transmit {
            ecn: Some(Ecn::Ect1),
            ..transmit(to_b, b"ping")
        },
    );
    let got = try_recv(&b, 4, 1500).unwrap();
    let expected = RecvMeta {
        addr: addr(1, 4433),
        len: 4,
        stride: 4,
        ecn: Some(Ecn::Ect1),
        dst_ip: Some(to_b.ip()),
    };
    assert_eq!(got, [(expected, b"ping".to_vec())]);

    send(&b, &transmit(expected.addr, b"pong"));
    let got = try_recv(&a, 4, 1500).unwrap();
    assert_eq!(got.len(), 1);
    let (m, data) = &got[0];
    assert_eq!((m.addr, m.ecn, data.as_slice()), (to_b, None, &b"pong"[..]));
    assert!(try_recv(&a, 4, 1500).is_none() && try_recv(&b, 4, 1500).is_none());
}

#[test]
fn binding_takes_free_ports_and_refuses_taken_or_wildcard_addresses() {
    let net = SimNetwork::new(&Sim::new());
    let auto = |host| net.bind(addr(host, 0)).unwrap();
    let first = auto(1);
    assert_eq!(first.local_addr().unwrap(), addr(1, 49152));
    let _taken = net.bind(addr(1, 49153)).unwrap();
    assert_eq!(auto(1).local_addr().unwrap(), addr(1, 49154));
    assert_eq!(
        net.bind(addr(1, 49152)).unwrap_err().kind(),
        io::ErrorKind::AddrInUse
    );
    let wildcard = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 443));
    assert_eq!(
        net.bind(wildcard).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    drop(first);
    net.bind(addr(1, 49152))
        .expect("a dropped socket frees its address");
}

#[test]
fn a_gso_transmit_goes_out_as_separate_datagrams() {
    let sim = Sim::new();
    let net = SimNetwork::new(&sim);
    let (a, b) = (net.bind(addr(1, 1)).unwrap(), net.bind(addr(2, 2)).unwrap());
    assert!(a.max_transmit_segments() > 1);
    let segments = [vec![1; 500], vec![2; 500], vec![3; 200]];
    let contents = segments.concat();
    let gso = Transmit {
        segment_size: Some(500),
        ..transmit(addr(2, 2), &contents)
    };
    send(&a, &gso);
    // Buffers of one segment each leave GRO nothing to join.
    let got = try_recv(&b, 8, 500).unwrap();
    let lens: Vec<_> = got.iter().map(|(m, _)| (m.len, m.stride)).collect();
    assert_eq!(lens, [(500, 500), (500, 500), (200, 200)]);
    let data: Vec<_> = got.into_iter().map(|(_, d)| d).collect();
    assert_eq!(data, segments);

    // A link rule counts each segment.
    net.link(addr(1, 1), addr(2, 2)).drop_every(2);
    send(&a, &gso);
    assert_eq!(recv_all(&b), [vec![1; 500], vec![3; 200]]);

    let mut cx = Context::from_waker(Waker::noop());
    for bad in [Some(0), Some(1)] {
        let t = Transmit {
            segment_size: bad,
            ..gso
        };
        let Poll::Ready(Err(e)) = a.poll_send(&mut cx, &t) else {
            panic!("{bad:?} accepted");
        };
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}

#[test]
fn a_send_over_one_ip_packets_payload_is_refused_and_each_link_counts_its_sends() {
    let sim = Sim::new();
    let net = SimNetwork::new(&sim);
    let (a, b) = (net.bind(addr(1, 1)).unwrap(), net.bind(addr(2, 2)).unwrap());
    let link = net.link(addr(1, 1), addr(2, 2));
    assert_eq!(link.sent(), Sent::default());
    let gso = |contents| Transmit {
        segment_size: Some(1452),
        ..transmit(addr(2, 2), contents)
    };
    let fits = vec![7; 45 * 1452];
    assert!(fits.len() <= MAX_SEND);
    send(&a, &gso(&fits));
    send(&a, &transmit(addr(2, 2), &[1; 100]));

    let mut cx = Context::from_waker(Waker::noop());
    let over = vec![7; 46 * 1452];
    let one_over = vec![7; MAX_SEND + 1];
    for t in [gso(&over), transmit(addr(2, 2), &one_over)] {
        let Poll::Ready(Err(e)) = a.poll_send(&mut cx, &t) else {
            panic!("{} bytes accepted", t.contents.len());
        };
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
    assert_eq!(
        link.sent(),
        Sent {
            transmits: 2,
            datagrams: 46,
            most_datagrams: 45,
            most_bytes: 45 * 1452,
            refused: 2,
            blocked: 0,
        }
    );
    assert_eq!(recv_all(&b).len(), 46, "only what was taken arrives");
    assert_eq!(net.link(addr(2, 2), addr(1, 1)).sent(), Sent::default());
}

#[test]
fn gro_joins_one_senders_datagrams_of_one_size_while_they_fit() {
    let sim = Sim::new();
    let net = SimNetwork::new(&sim);
    let (a, b) = (net.bind(addr(1, 1)).unwrap(), net.bind(addr(2, 2)).unwrap());
    let c = net.bind(addr(3, 3)).unwrap();
    let to_b = addr(2, 2);
    let burst = || {
        for (len, id) in [(100, 1), (100, 2), (100, 3), (50, 4), (100, 5)] {
            send(&a, &transmit(to_b, &vec![id; len]));
        }
        send(&c, &transmit(to_b, &[6; 100]));
        let marked = vec![7; 100];
        send(
            &a,
            &Transmit {
                ecn: Some(Ecn::Ce),
                ..transmit(to_b, &marked)
            },
        );
    };
    let shape = |got: Vec<(RecvMeta, Vec<u8>)>| {
        got.into_iter()
            .map(|(m, d)| (m.addr.ip().to_string(), m.len, m.stride, d[0]))
            .collect::<Vec<_>>()
    };
    let ip = |host: u8| Ipv4Addr::new(192, 0, 2, host).to_string();

    burst();
    assert_eq!(
        shape(try_recv(&b, 8, 1000).unwrap()),
        [
            (ip(1), 350, 100, 1),
            (ip(1), 100, 100, 5),
            (ip(3), 100, 100, 6),
            (ip(1), 100, 100, 7),
        ],
        "a shorter datagram ends a buffer, another sender or ECN mark starts one"
    );

    burst();
    assert_eq!(
        shape(try_recv(&b, 8, 250).unwrap()),
        [
            (ip(1), 200, 100, 1),
            (ip(1), 150, 100, 3),
            (ip(1), 100, 100, 5),
            (ip(3), 100, 100, 6),
            (ip(1), 100, 100, 7),
        ],
        "a buffer takes only the datagrams that fit whole"
    );
}

#[test]
fn a_datagram_larger_than_its_buffer_is_truncated() {
    let sim = Sim::new();
    let net = SimNetwork::new(&sim);
    let (a, b) = (net.bind(addr(1, 1)).unwrap(), net.bind(addr(2, 2)).unwrap());
    send(&a, &transmit(addr(2, 2), &[9; 100]));
    send(&a, &transmit(addr(2, 2), &[8; 60]));
    let got = try_recv(&b, 1, 60).unwrap();
    let (m, data) = &got[0];
    assert_eq!((m.len, m.stride, data), (60, 60, &vec![9; 60]));
    assert_eq!(
        b.queued(),
        1,
        "the next datagram is not joined to a cut one"
    );
}

#[test]
fn latency_delivers_at_exactly_send_time_plus_latency() {
    let sim = Sim::new();
    let net = SimNetwork::new(&sim);
    let (a, b) = (net.bind(addr(1, 1)).unwrap(), net.bind(addr(2, 2)).unwrap());
    net.set_latency(30 * MS);
    net.link(addr(2, 2), addr(1, 1)).latency(5 * MS);
    sim.advance(2 * MS);
    send(&a, &transmit(addr(2, 2), b"there"));
    sim.advance(29 * MS);
    assert!(try_recv(&b, 1, 1500).is_none(), "still in flight at 31 ms");
    let (_, data) = sim.block_on(recv(&b));
    assert_eq!((data.as_slice(), sim.elapsed()), (&b"there"[..], 32 * MS));

    send(&b, &transmit(addr(1, 1), b"back"));
    let (_, data) = sim.block_on(recv(&a));
    assert_eq!(
        (data.as_slice(), sim.elapsed()),
        (&b"back"[..], 37 * MS),
        "the link's own latency"
    );
}

#[test]
fn drop_rules_drop_exactly_the_chosen_datagrams() {
    let sim = Sim::new();
    let net = SimNetwork::new(&sim);
    let (a, b) = (net.bind(addr(1, 1)).unwrap(), net.bind(addr(2, 2)).unwrap());
    let (to_a, to_b) = (addr(1, 1), addr(2, 2));
    net.link(to_a, to_b).drop_next(2).drop_every(3);
    send_ids(&a, to_b, 0..10);
    assert_eq!(
        ids(recv_all(&b)),
        [3, 4, 6, 7, 9],
        "0 and 1, then every third sent: 2, 5, 8"
    );
    send_ids(&b, to_a, 0..3);
    assert_eq!(
        ids(recv_all(&a)),
        [0, 1, 2],
        "the other direction is another link"
    );
    net.link(to_a, to_b).drop_every(0);
    send_ids(&a, to_b, 10..13);
    assert_eq!(ids(recv_all(&b)), [10, 11, 12]);
}

#[test]
fn a_delayed_datagram_is_overtaken() {
    let sim = Sim::new();
    let net = SimNetwork::new(&sim);
    let (a, b) = (net.bind(addr(1, 1)).unwrap(), net.bind(addr(2, 2)).unwrap());
    net.link(addr(1, 1), addr(2, 2)).delay_next(1, 10 * MS);
    send_ids(&a, addr(2, 2), 1..4);
    assert_eq!(ids(recv_all(&b)), [2, 3]);
    let (_, data) = sim.block_on(recv(&b));
    assert_eq!((data, sim.elapsed()), (vec![1], 10 * MS));
}

#[test]
fn a_full_send_buffer_takes_nothing_until_it_has_room() {
    let sim = Sim::new();
    let net = SimNetwork::new(&sim);
    let a = Arc::new(net.bind(addr(1, 1)).unwrap());
    let b = net.bind(addr(2, 2)).unwrap();
    net.fill_send_buffer(addr(1, 1), 5 * MS);
    let e = a.try_send(&transmit(addr(2, 2), &[1])).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    assert_eq!(b.queued(), 0);

    // Waiting for room, then for a send, ends when the time is up; the send is taken.
    let waited = sim.block_on({
        let (a, sim) = (a.clone(), sim.clone());
        async move {
            a.clone().writable().await.unwrap();
            let writable_at = sim.elapsed();
            let blocked = transmit(addr(2, 2), &[2]);
            poll_fn(|cx| a.poll_send(cx, &blocked)).await.unwrap();
            (writable_at, sim.elapsed())
        }
    });
    assert_eq!(waited, (5 * MS, 5 * MS));
    a.try_send(&transmit(addr(2, 2), &[3])).unwrap();
    assert_eq!(ids(recv_all(&b)), [2, 3]);
    let sent = net.link(addr(1, 1), addr(2, 2)).sent();
    assert_eq!((sent.blocked, sent.transmits), (1, 2));

    // A send that waits is woken when the buffer has room, at that instant.
    net.fill_send_buffer(addr(1, 1), 3 * MS);
    let sent_at = sim.block_on({
        let (a, sim) = (a.clone(), sim.clone());
        async move {
            let waits = transmit(addr(2, 2), &[4]);
            poll_fn(|cx| a.poll_send(cx, &waits)).await.unwrap();
            sim.elapsed()
        }
    });
    assert_eq!(sent_at, 8 * MS);
    assert_eq!(ids(recv_all(&b)), [4]);
}

#[test]
fn a_full_queue_drops_what_arrives() {
    let sim = Sim::new();
    let net = SimNetwork::new(&sim);
    let a = net.bind(addr(1, 1)).unwrap();
    let b = net.bind_with_capacity(addr(2, 2), 4).unwrap();
    send_ids(&a, addr(2, 2), 0..6);
    assert_eq!(b.queued(), 4);
    assert_eq!(ids(recv_all(&b)), [0, 1, 2, 3]);
    send_ids(&a, addr(2, 2), [6]);
    assert_eq!(ids(recv_all(&b)), [6], "received datagrams make room");
}

#[test]
fn a_datagram_to_an_unbound_address_is_lost_silently() {
    let sim = Sim::new();
    let net = SimNetwork::new(&sim);
    let a = net.bind(addr(1, 1)).unwrap();
    send(&a, &transmit(addr(9, 9), b"nobody"));

    // Unbound while in flight: lost too, even to a socket bound there later.
    net.set_latency(5 * MS);
    let b = net.bind(addr(2, 2)).unwrap();
    send(&a, &transmit(addr(2, 2), b"gone"));
    drop(b);
    sim.advance(5 * MS);
    let b = net.bind(addr(2, 2)).unwrap();
    assert!(try_recv(&b, 1, 1500).is_none());
}

#[test]
fn a_pending_receive_wakes_on_delivery() {
    let sim = Sim::new();
    let net = SimNetwork::new(&sim);
    let a = net.bind(addr(1, 1)).unwrap();
    let b = Arc::new(net.bind(addr(2, 2)).unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let receive = || {
        let (sim, b, log) = (sim.clone(), b.clone(), log.clone());
        sim.clone().spawn(async move {
            let (_, data) = recv(&b).await;
            log.lock().unwrap().push((data, sim.elapsed()));
        });
    };

    receive();
    sim.run_until_stalled();
    assert!(log.lock().unwrap().is_empty(), "nothing has arrived");
    send(&a, &transmit(addr(2, 2), b"now"));
    sim.run_until_stalled();
    assert_eq!(*log.lock().unwrap(), [(b"now".to_vec(), Duration::ZERO)]);

    receive();
    net.set_latency(7 * MS);
    send(&a, &transmit(addr(2, 2), b"later"));
    sim.advance(10 * MS);
    assert_eq!(log.lock().unwrap()[1], (b"later".to_vec(), 7 * MS));
}
