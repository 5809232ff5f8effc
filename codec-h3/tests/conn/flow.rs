//! Flow control both ways: a response waits for a slow reader with bounded memory, an
//! application that does not read a body holds its client back; and QPACK sections
//! that wait for their inserts.

use roadrunner_h3::bytes::Bytes;
use roadrunner_h3::http::{HeaderMap, StatusCode};
use roadrunner_h3::{Config, Event, SendError, READ_AHEAD, STREAM_QUEUE};

use crate::exchange::body;
use crate::pair::{get, request, Pair, CLIENT_STREAM_WINDOW};

const PIECE: usize = 16 * 1024;

#[test]
fn a_response_larger_than_the_clients_window_waits_in_bounded_memory() {
    let mut p = Pair::new();
    p.client.pause_reading = true;
    let s = p.client.send_request(&get("/big"), b"", true);
    p.run();
    assert!(matches!(p.expect_event(), Event::Request { .. }));
    p.server()
        .send_response(s, StatusCode::OK, &HeaderMap::new(), false)
        .expect("head");
    let whole = Bytes::from(body(1_000_000));
    let mut offset = 0;
    let offer = |p: &mut Pair, offset: &mut usize| loop {
        let end = (*offset + PIECE).min(whole.len());
        let last = end == whole.len();
        match p.server().send_data(s, whole.slice(*offset..end), last) {
            Ok(()) => {
                *offset = end;
                if last {
                    return;
                }
            }
            Err(SendError::Full) => return,
            Err(e) => panic!("send_data: {e}"),
        }
    };
    offer(&mut p, &mut offset);
    p.run_for(std::time::Duration::from_secs(2));
    offer(&mut p, &mut offset);
    // What the server took: the client's window (with QUIC) and one queue (here).
    let bound = CLIENT_STREAM_WINDOW as usize + STREAM_QUEUE + PIECE;
    assert!(offset <= bound, "took {offset} bytes, more than {bound}");
    assert!(offset >= STREAM_QUEUE, "took {offset} bytes");
    assert!(
        !p.events.iter().any(|e| matches!(e, Event::Writable { .. })),
        "no room while the client reads nothing"
    );
    p.client.pause_reading = false;
    p.run_until(|p| {
        while let Some(event) = p.event() {
            assert!(matches!(event, Event::Writable { stream } if stream == s));
            offer(p, &mut offset);
        }
        p.client.responses[&s].complete()
    });
    assert!(p.client.responses[&s].body == whole, "all of it, in order");
}

#[test]
fn an_application_that_does_not_read_its_body_holds_the_client_back() {
    let mut p = Pair::new();
    let sent = body(2_000_000);
    let s = p
        .client
        .send_request(&request("PUT", "/upload", &[]), &sent, true);
    p.run_for(std::time::Duration::from_secs(2));
    assert!(matches!(p.expect_event(), Event::Request { .. }));
    let mut got = Vec::new();
    // Takes the body events; whether the body ended.
    let take = |p: &mut Pair, got: &mut Vec<u8>, release: bool| {
        let mut ended = false;
        while let Some(event) = p.event() {
            let Event::Data {
                data, end_stream, ..
            } = event
            else {
                panic!("body only: {event:?}")
            };
            got.extend_from_slice(&data);
            ended |= end_stream;
            if release {
                p.server().release(s, data.len());
            }
        }
        ended
    };
    take(&mut p, &mut got, false);
    // Handed out up to the read-ahead; the rest waits in QUIC, within its window.
    assert!(got.len() >= READ_AHEAD, "{}", got.len());
    assert!(got.len() < READ_AHEAD + 16 * 1024, "{}", got.len());
    let unsent = p.client.unsent(s);
    let window = Config::default().stream_window as usize;
    assert!(
        unsent >= sent.len() - got.len() - window - 4096,
        "the client is held back: {unsent} bytes unsent"
    );
    p.run_for(std::time::Duration::from_secs(2));
    take(&mut p, &mut got, false);
    assert!(
        got.len() < READ_AHEAD + 16 * 1024,
        "still held: {}",
        got.len()
    );
    // Releasing lets the rest through.
    p.server().release(s, got.len());
    p.run_until(|p| take(p, &mut got, true));
    assert!(got == sent, "the whole body, in order");
}

#[test]
fn a_section_that_waits_for_its_inserts_is_decoded_when_they_come() {
    let mut p = Pair::new();
    let fields = request("GET", "/", &[("x-custom-token", "a-value-seen-twice")]);
    // The first request makes the client's encoder see the field; the second inserts
    // it into the dynamic table and refers to it.
    let first = p.client.send_request(&fields, b"", true);
    p.run();
    assert!(matches!(p.expect_event(), Event::Request { stream, .. } if stream == first));
    p.client.hold_encoder = true;
    let second = p.client.send_request(&fields, b"", true);
    assert!(p.client.encoder.insert_count() > 0, "the client inserted");
    p.run_for(std::time::Duration::from_millis(500));
    let event = p.event();
    assert!(event.is_none(), "blocked on the inserts: {event:?}");
    p.client.hold_encoder = false;
    p.run();
    let Event::Request { stream, head, .. } = p.expect_event() else {
        panic!("the request, unblocked")
    };
    assert_eq!(stream, second);
    assert_eq!(head.headers["x-custom-token"], "a-value-seen-twice");
    // The server acknowledged the section on its decoder stream.
    p.run_until(|p| p.client.encoder.known_received_count() == p.client.encoder.insert_count());
    for s in [first, second] {
        p.server()
            .send_response(s, StatusCode::NO_CONTENT, &HeaderMap::new(), true)
            .expect("answer");
    }
    p.run();
    assert!(p.client.responses[&second].complete());
}

#[test]
fn a_stream_not_being_read_still_hears_of_its_reset() {
    let mut p = Pair::new();
    // Held by the read-ahead: the application has not released its body.
    let s = p
        .client
        .send_request(&request("POST", "/", &[]), &body(200_000), false);
    p.run_for(std::time::Duration::from_millis(500));
    assert!(matches!(p.expect_event(), Event::Request { .. }));
    while let Some(Event::Data { .. }) = p.event() {}
    p.client.reset(s, 0x10c, false);
    p.run();
    assert!(matches!(
        p.expect_event(),
        Event::Reset { stream, .. } if stream == s
    ));

    // Blocked on QPACK inserts that never come.
    let fields = request("GET", "/", &[("x-seen", "twice")]);
    let first = p.client.send_request(&fields, b"", true);
    p.run();
    assert!(matches!(p.expect_event(), Event::Request { stream, .. } if stream == first));
    p.server()
        .send_response(first, StatusCode::OK, &HeaderMap::new(), true)
        .expect("answer");
    p.client.hold_encoder = true;
    let blocked = p.client.send_request(&fields, b"", false);
    p.run_until(|p| p.server().open_streams() == 1);
    p.client.reset(blocked, 0x10c, false);
    p.run_until(|p| p.server().open_streams() == 0);
    assert!(p.event().is_none(), "the application never had it");
}

#[test]
fn an_application_done_with_a_request_stops_it_and_its_response_still_goes_out() {
    let mut p = Pair::new();
    let s = p
        .client
        .send_request(&request("POST", "/not-here", &[]), &body(300_000), false);
    p.run();
    assert!(matches!(p.expect_event(), Event::Request { .. }));
    p.server()
        .send_response(s, StatusCode::NOT_FOUND, &HeaderMap::new(), false)
        .expect("head");
    p.server()
        .send_data(s, Bytes::from(body(50_000)), true)
        .expect("body");
    // The body is not wanted: the request is stopped, the response kept.
    p.server()
        .reset(s, roadrunner_h3::ErrorCode::H3_NO_ERROR)
        .expect("stop the request");
    p.run_until(|p| p.client.responses[&s].complete());
    let r = &p.client.responses[&s];
    assert_eq!(r.status(), Some(404));
    assert!(r.body == body(50_000), "the whole response");
    assert_eq!(r.reset, None);
    assert_eq!(r.stopped, Some(roadrunner_h3::ErrorCode::H3_NO_ERROR.0));
    p.run_until(|p| p.server().open_streams() == 0);
}
