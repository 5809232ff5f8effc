//! Each adapter's `UdpSocket` through the core's `DatagramSocket`: a batch of datagrams
//! (a GSO one among them where the kernel offers it) arrives whole, with its metadata.

use std::future::poll_fn;
use std::io::IoSliceMut;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use roadrunner_core::runtime::{DatagramSocket, Ecn, RecvMeta, Transmit};

/// Far above what the exchange needs; only a lost wakeup would reach it.
const LIMIT: Duration = Duration::from_secs(30);

fn loopback() -> UdpSocket {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap()
}

/// A datagram of `len` bytes that tells which one it is.
fn datagram(id: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| id.wrapping_add(i as u8)).collect()
}

/// Sends single datagrams and a GSO batch from `a` to `b`, then receives them all.
async fn exchange(a: impl DatagramSocket, b: impl DatagramSocket) {
    let to = b.local_addr().unwrap();
    let from = a.local_addr().unwrap();
    assert_eq!(to.ip(), Ipv4Addr::LOCALHOST);
    assert!(a.max_transmit_segments() >= 1 && b.max_receive_segments() >= 1);

    let mut sent = Vec::new();
    let singles = [(1, 0), (2, 1), (3, 100), (4, 1200), (5, 1472)];
    for (id, len) in singles {
        let contents = datagram(id, len);
        send(&a, to, &contents, None).await;
        sent.push(contents);
    }
    let segments = a.max_transmit_segments().min(4);
    if segments > 1 {
        // Equal segments, and a shorter last one.
        let batch: Vec<Vec<u8>> = (1..segments)
            .map(|i| datagram(10 + i as u8, 500))
            .chain([datagram(20, 200)])
            .collect();
        send(&a, to, &batch.concat(), Some(500)).await;
        sent.extend(batch);
    }

    let mut bufs = vec![vec![0; 65_536]; 8];
    let mut meta = [RecvMeta::default(); 8];
    let mut received = Vec::new();
    while received.len() < sent.len() {
        let mut slices: Vec<IoSliceMut<'_>> = bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
        let n = poll_fn(|cx| b.poll_recv(cx, &mut slices, &mut meta))
            .await
            .unwrap();
        assert!((1..=slices.len()).contains(&n));
        for (m, buf) in meta[..n].iter().zip(&slices) {
            assert_eq!(m.addr, from);
            assert!(m.stride <= m.len, "{m:?}");
            if cfg!(target_os = "linux") {
                assert_eq!(m.ecn, Some(Ecn::Ect0));
                assert_eq!(m.dst_ip, Some(Ipv4Addr::LOCALHOST.into()));
            }
            received.extend(m.datagrams(buf).map(<[u8]>::to_vec));
        }
    }
    // One flow on loopback keeps its order in practice, but nothing promises it.
    sent.sort();
    received.sort();
    assert_eq!(received, sent);

    // Nothing is left: a receive now waits instead of failing.
    let mut slices = [IoSliceMut::new(&mut bufs[0])];
    let more = poll_recv_once(&b, &mut slices, &mut meta).await;
    assert!(more.is_none(), "{more:?}");
}

async fn send(
    a: &impl DatagramSocket,
    to: SocketAddr,
    contents: &[u8],
    segment_size: Option<usize>,
) {
    let transmit = Transmit {
        destination: to,
        ecn: Some(Ecn::Ect0),
        contents,
        segment_size,
        src_ip: None,
    };
    poll_fn(|cx| a.poll_send(cx, &transmit)).await.unwrap();
}

/// One `poll_recv`: `None` when it is pending.
async fn poll_recv_once(
    b: &impl DatagramSocket,
    bufs: &mut [IoSliceMut<'_>],
    meta: &mut [RecvMeta],
) -> Option<std::io::Result<usize>> {
    smol::future::poll_once(poll_fn(|cx| b.poll_recv(cx, bufs, meta))).await
}

#[test]
fn tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let a = roadrunner_tokio::UdpSocket::new(loopback()).unwrap();
        let b = roadrunner_tokio::UdpSocket::new(loopback()).unwrap();
        tokio::time::timeout(LIMIT, exchange(a, b))
            .await
            .expect("timed out");
    });
}

#[test]
fn smol() {
    smol::block_on(async {
        let a = roadrunner_smol::UdpSocket::new(loopback()).unwrap();
        let b = roadrunner_smol::UdpSocket::new(loopback()).unwrap();
        let timeout = async {
            smol::Timer::after(LIMIT).await;
            panic!("timed out");
        };
        smol::future::or(exchange(a, b), timeout).await;
    });
}
