//! The 2019 set of HTTP/2 attacks (CVE-2019-9511…9518) replayed against
//! `ServerConn` (the harness is in `abuse/`): data dribble, window-update, ping,
//! settings and priority floods, empty frames, and a client that never reads. Each
//! test checks that what the server holds stays under a fixed bound, that the events
//! and output per input byte stay bounded, and where the abuse is clear that the
//! connection ends with `GOAWAY(ENHANCE_YOUR_CALM)`.

mod abuse;

use abuse::*;

#[test]
fn a_data_dribble_is_served_with_window_updates_batched_by_the_threshold() {
    let mut d = Driver::new(Config::default(), true, never);
    let mut c = Client::new();
    c.request(1, "/", &[], false);
    for _ in 0..100_000 {
        frame::encode_data(1, b"x", false, &mut c.out);
    }
    let attack = c.take();
    assert_eq!(d.feed(&attack), attack.len());
    d.transmit();
    d.assert_alive();
    // One event per frame, and one update per window per 32 KiB released.
    assert_eq!(d.events, 100_001);
    let per_window = 100_000 / 32_768 + 1;
    assert!(d.seen.window_updates <= 2 * per_window, "{:?}", d.seen);
    assert_bounded(&d);
}

#[test]
fn tiny_window_updates_get_tiny_frames_but_no_more_output_than_input() {
    let mut d = Driver::new(Config::default(), true, |_| Some(1 << 20));
    let mut c = Client::new();
    c.get(1);
    d.feed(&c.take());
    assert_eq!(d.seen.data, 65_535, "the default windows");
    // One byte of window at a time, on the stream and the connection.
    let mut attack = Vec::new();
    for _ in 0..20_000 {
        frame::encode_window_update(1, 1, &mut attack);
        frame::encode_window_update(0, 1, &mut attack);
    }
    let before = d.seen.bytes;
    assert_eq!(d.feed(&attack), attack.len());
    d.assert_alive();
    assert_eq!(d.seen.data, 65_535 + 20_000, "exactly the window granted");
    assert!(
        d.seen.bytes - before <= attack.len(),
        "output per input byte"
    );
    assert!(d.peak.responses <= 64 * 1024 + 16_384, "{:?}", d.peak);
}

#[test]
fn a_window_update_flood_does_not_grow_the_servers_work() {
    // 100 responses waiting on the connection window, then a flood of 1-byte
    // connection WINDOW_UPDATEs: each lets out one byte and costs O(1).
    let mut d = Driver::new(Config::default(), true, |_| Some(100_000));
    let mut c = Client::new();
    for i in 0..100 {
        c.get(2 * i + 1);
    }
    d.feed(&c.take());
    assert!(
        d.peak.responses <= 100 * (64 * 1024 + 16_384),
        "{:?}",
        d.peak
    );
    let mut attack = Vec::new();
    for _ in 0..30_000 {
        frame::encode_window_update(0, 1, &mut attack);
    }
    let mark = heap_mark();
    assert_eq!(d.feed(&attack), attack.len());
    let growth = heap_growth(mark);
    d.assert_alive();
    assert_eq!(d.seen.data, 65_535 + 30_000);
    assert!(growth < 256 * 1024, "heap grew {growth}");
}

#[test]
fn a_ping_flood_the_client_never_reads_is_stopped() {
    let mut d = Driver::new(Config::default(), false, at_once);
    let mut attack = Vec::new();
    for i in 0..100_000u64 {
        frame::encode_ping(false, i.to_be_bytes(), &mut attack);
    }
    d.feed(&attack);
    d.assert_calm("unread");
    assert_eq!(d.seen.ping_acks, MAX_UNREAD_ACKS as usize);
    assert_bounded(&d);

    // Even read one ping at a time, the backlog of answers is what counts.
    let mut d = Driver::new(Config::default(), false, at_once);
    let mut taken = 0;
    for ping in attack.chunks(17).take(1000) {
        taken += d.feed(ping);
    }
    d.assert_calm("unread");
    assert!(taken <= (MAX_UNREAD_ACKS as usize + 1) * 17);
}

#[test]
fn pings_answered_as_they_come_are_served() {
    let mut d = Driver::new(Config::default(), true, at_once);
    let mut attack = Vec::new();
    for i in 0..10_000u64 {
        frame::encode_ping(false, i.to_be_bytes(), &mut attack);
    }
    for ping in attack.chunks(17) {
        d.feed(ping);
    }
    d.assert_alive();
    assert_eq!(d.seen.ping_acks, 10_000);
}

#[test]
fn a_settings_flood_is_stopped_whether_or_not_the_client_reads() {
    for reads in [true, false] {
        let mut d = Driver::new(Config::default(), reads, never);
        let mut c = Client::new();
        // 100 open streams: each new initial window walks all of them.
        for i in 0..100 {
            c.get(2 * i + 1);
        }
        let mut attack = c.take();
        for i in 0..100_000 {
            let settings = Settings {
                initial_window_size: Some(1000 + i % 2),
                ..Settings::default()
            };
            frame::encode_settings(&settings, &mut attack);
        }
        let taken = d.feed(&attack);
        d.assert_calm("SETTINGS");
        // The hello's SETTINGS, the burst of 64 and what 100 requests earned.
        assert!(d.seen.settings_acks <= 1 + 64 + 100, "{:?}", d.seen);
        assert!(taken < attack.len() / 100, "{taken}");
        assert_bounded(&d);
    }
}

#[test]
fn a_priority_flood_is_stopped_and_a_reprioritising_client_is_not() {
    let mut d = Driver::new(Config::default(), true, at_once);
    let mut attack = Vec::new();
    for i in 0..100_000u32 {
        let priority = Priority {
            dependency: (i % 100) * 2 + 1,
            exclusive: i % 3 == 0,
            weight: i as u8,
        };
        frame::encode_priority((i % 100) * 2 + 3, &priority, &mut attack);
    }
    let taken = d.feed(&attack);
    d.assert_calm("PRIORITY");
    assert!(taken <= 1001 * 14 + READ, "{taken}");
    assert_bounded(&d);

    // Five PRIORITY frames per request, over 1000 requests.
    let mut d = Driver::new(Config::default(), true, at_once);
    let mut c = Client::new();
    for i in 0..1000u32 {
        let id = 2 * i + 1;
        c.get(id);
        for w in 0..5 {
            let priority = Priority {
                dependency: 0,
                exclusive: false,
                weight: w,
            };
            frame::encode_priority(id, &priority, &mut c.out);
        }
    }
    let attack = c.take();
    assert_eq!(d.feed(&attack), attack.len());
    d.assert_alive();
    assert_eq!(d.requests, 1000);
}

#[test]
fn empty_frames_are_stopped() {
    let empty_data = |out: &mut Vec<u8>| frame::encode_data(1, &[], false, out);
    let unknown = |out: &mut Vec<u8>| out.extend_from_slice(&[0, 0, 0, 0xfa, 0, 0, 0, 0, 0]);
    // Acknowledgements of nothing the server sent.
    let settings_ack = |out: &mut Vec<u8>| frame::encode_settings_ack(out);
    let ping_ack = |out: &mut Vec<u8>| frame::encode_ping(true, [0; 8], out);
    let floods: [fn(&mut Vec<u8>); 4] = [empty_data, unknown, settings_ack, ping_ack];
    for flood in floods {
        let mut d = Driver::new(Config::default(), true, never);
        let mut c = Client::new();
        c.request(1, "/", &[], false);
        let mut attack = c.take();
        for _ in 0..100_000 {
            flood(&mut attack);
        }
        let taken = d.feed(&attack);
        d.assert_calm("empty frames");
        // The burst of 256, and 4 earned by the request.
        assert!(taken <= 261 * 17 + READ, "{taken}");
        assert_eq!(d.events, 1, "the request; no event per empty frame");
        assert_bounded(&d);
    }
}

#[test]
fn a_client_that_never_reads_large_responses_holds_bounded_queues() {
    let mut d = Driver::new(Config::default(), false, |_| Some(10 << 20));
    let mut c = Client::new();
    for i in 0..100 {
        c.get(2 * i + 1);
    }
    let mark = heap_mark();
    d.feed(&c.take());
    // The client reads now and then, but never opens a window.
    for _ in 0..10 {
        d.transmit();
    }
    let growth = heap_growth(mark);
    d.assert_alive();
    assert_eq!(d.seen.data, 65_535, "no more than the connection window");
    let per_stream = 64 * 1024 + 16_384;
    assert!(d.peak.responses <= 100 * per_stream, "{:?}", d.peak);
    assert!(d.server.buffered().responses <= 100 * per_stream);
    assert!(growth < (100 * per_stream) as isize, "heap grew {growth}");
    assert_eq!(
        d.events, 100,
        "the requests; no Writable while the window is shut"
    );
}
