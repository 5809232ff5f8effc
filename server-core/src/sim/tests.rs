use std::future::poll_fn;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::runtime::{Acceptor, ByteStream, Runtime, Timer};

const MS: Duration = Duration::from_millis(1);

/// Runs `f` as a task recording into a shared log.
fn spawn_logging<T: Send + 'static>(
    sim: &Sim,
    log: &Arc<Mutex<Vec<T>>>,
    f: impl std::future::Future<Output = T> + Send + 'static,
) {
    let log = log.clone();
    sim.spawn(async move {
        let v = f.await;
        log.lock().unwrap().push(v);
    });
}

#[test]
fn timers_fire_in_deadline_order_at_their_virtual_times() {
    let sim = Sim::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    for (id, ms) in [("c", 30), ("a", 10), ("b", 20), ("a2", 10)] {
        let (sim2, timer) = (sim.clone(), sim.sleep(ms * MS));
        spawn_logging(&sim, &log, async move {
            timer.await;
            (id, sim2.elapsed())
        });
    }
    sim.run_until_stalled();
    assert!(log.lock().unwrap().is_empty(), "nothing is due at zero");
    sim.advance(15 * MS);
    assert_eq!(sim.elapsed(), 15 * MS);
    assert_eq!(*log.lock().unwrap(), [("a", 10 * MS), ("a2", 10 * MS)]);
    sim.advance(100 * MS);
    assert_eq!(sim.elapsed(), 115 * MS);
    assert_eq!(
        *log.lock().unwrap(),
        [
            ("a", 10 * MS),
            ("a2", 10 * MS),
            ("b", 20 * MS),
            ("c", 30 * MS)
        ]
    );
}

#[test]
fn a_reset_timer_fires_at_its_new_deadline_only() {
    let sim = Sim::new();
    let mut later = sim.sleep(10 * MS);
    later.reset(sim.now() + 50 * MS);
    let mut earlier = sim.sleep(40 * MS);
    earlier.reset(sim.now() + 5 * MS);
    sim.block_on(earlier);
    assert_eq!(sim.elapsed(), 5 * MS);
    sim.block_on(later);
    assert_eq!(sim.elapsed(), 50 * MS, "not at the superseded 10 ms");
}

#[test]
fn block_on_jumps_to_the_next_timer_and_wall_follows() {
    let sim = Sim::new();
    let wall0 = sim.wall();
    sim.block_on(sim.sleep(Duration::from_secs(3600)));
    assert_eq!(sim.elapsed(), Duration::from_secs(3600));
    assert_eq!(
        sim.wall().duration_since(wall0).unwrap(),
        Duration::from_secs(3600)
    );
}

#[test]
#[should_panic(expected = "sim deadlock")]
fn block_on_detects_a_deadlock() {
    let sim = Sim::new();
    // A dropped timer does not count as armed.
    drop(sim.sleep(MS));
    sim.block_on(std::future::pending::<()>());
}

#[test]
fn a_pending_read_wakes_on_write() {
    let sim = Sim::new();
    let (mut server, mut client) = pipe(DEFAULT_CAPACITY);
    let log = Arc::new(Mutex::new(Vec::new()));
    spawn_logging(&sim, &log, async move {
        let mut buf = [0u8; 16];
        let n = poll_fn(|cx| server.poll_read(cx, &mut buf)).await.unwrap();
        buf[..n].to_vec()
    });
    sim.run_until_stalled();
    assert!(log.lock().unwrap().is_empty(), "nothing to read yet");
    sim.block_on(client.write_all(b"hello")).unwrap();
    sim.run_until_stalled();
    assert_eq!(*log.lock().unwrap(), [b"hello".to_vec()]);
}

#[test]
fn a_full_pipe_makes_the_writer_wait_until_the_reader_reads() {
    let sim = Sim::new();
    let (mut server, mut client) = pipe(4);
    let written = Arc::new(Mutex::new(Vec::new()));
    spawn_logging(&sim, &written, async move {
        poll_fn(|cx| server.poll_write(cx, b"0123456789"))
            .await
            .unwrap();
        let rest = poll_fn(|cx| server.poll_write(cx, b"456789"))
            .await
            .unwrap();
        (server, rest)
    });
    sim.run_until_stalled();
    assert_eq!(client.unread(), 4, "only the capacity was taken");
    assert!(written.lock().unwrap().is_empty(), "the writer waits");
    let mut buf = [0u8; 3];
    assert_eq!(sim.block_on(client.read(&mut buf)).unwrap(), 3);
    assert_eq!(&buf, b"012");
    sim.run_until_stalled();
    assert_eq!(written.lock().unwrap()[0].1, 3, "room for 3 more");
    assert_eq!(client.unread(), 4);
}

#[test]
fn shutdown_is_an_orderly_end_and_a_dropped_client_a_reset() {
    let sim = Sim::new();
    let (mut server, mut client) = pipe(DEFAULT_CAPACITY);
    sim.block_on(poll_fn(|cx| server.poll_write(cx, b"bye")))
        .unwrap();
    sim.block_on(poll_fn(|cx| server.poll_shutdown(cx)))
        .unwrap();
    assert_eq!(
        sim.block_on(client.read_until_close()),
        (b"bye".to_vec(), Closed::Eof)
    );
    drop(client);
    let mut buf = [0u8; 4];
    let read = sim.block_on(poll_fn(|cx| server.poll_read(cx, &mut buf)));
    assert_eq!(read.unwrap_err().kind(), io::ErrorKind::ConnectionReset);
    let write = sim.block_on(poll_fn(|cx| server.poll_write(cx, b"x")));
    assert_eq!(write.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
}

#[test]
fn a_server_end_dropped_with_input_unread_resets() {
    let sim = Sim::new();
    let (server, mut client) = pipe(DEFAULT_CAPACITY);
    sim.block_on(client.write_all(b"unread")).unwrap();
    drop(server);
    assert_eq!(
        sim.block_on(client.read_until_close()),
        (Vec::new(), Closed::Reset)
    );
    let (server, mut client) = pipe(DEFAULT_CAPACITY);
    drop(server);
    assert_eq!(
        sim.block_on(client.read_until_close()),
        (Vec::new(), Closed::Eof)
    );
    let err = sim.block_on(client.write_all(b"late")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
}

#[test]
fn the_acceptor_hands_out_connections_with_distinct_peers_until_closed() {
    let sim = Sim::new();
    let (acceptor, connector) = listen();
    let first = connector.connect().unwrap();
    let second = connector.connect().unwrap();
    let (_s1, p1) = sim.block_on(acceptor.accept()).unwrap();
    let (_s2, p2) = sim.block_on(acceptor.accept()).unwrap();
    assert_eq!((p1, p2), (first.addr(), second.addr()));
    assert_ne!(p1, p2);
    assert_eq!(acceptor.local_addr().unwrap(), LOCAL_ADDR);
    let mut waiting = connector.connect().unwrap();
    drop(acceptor);
    assert_eq!(
        sim.block_on(waiting.read_until_close()).1,
        Closed::Reset,
        "a connection left in the backlog is reset when the socket closes"
    );
    let refused = connector.connect().unwrap_err();
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
}
