//! Loop handlers (`loop_body`): messages sent to the loop's `Mailbox` from the test
//! thread become chunks in order; a client that goes away ends the loop (`Closed`) and
//! closes the mailbox; drain notices reach the loop as `LoopEvent::Drain` with the
//! notice's deadline, and a loop that ends on the notice lets `drain` finish.

mod kinds;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kinds::{Chunk, TcpWire};
use roadrunner_core::{
    loop_body, DrainOutcome, Loop, LoopEvent, Mailbox, Request, RequestExt, Response, Route, Routes,
};
use roadrunner_tests::{both, get_req, opts, wait_until, Adapter, Server, IO_TIMEOUT};

/// What a loop reports to the test.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Drain(Option<Instant>),
    Closed,
}

struct Shared {
    mailboxes: mpsc::Sender<Mailbox<String>>,
    events: mpsc::Sender<Seen>,
    /// End the loop (after a goodbye part) on the first drain notice.
    end_on_drain: bool,
}

/// The loop: each message is sent as one part (`"end"` ends the body); drain notices
/// are answered with a part, closing is recorded.
async fn looping(req: Request) -> Response {
    let st: Arc<Shared> = req.state::<Arc<Shared>>().expect("state").clone();
    Response::new(loop_body(&req, move |mut lp: Loop<String>| {
        st.mailboxes
            .send(lp.mailbox())
            .expect("test waiting for the mailbox");
        async move {
            loop {
                match lp.next().await {
                    LoopEvent::Message(m) if m == "end" => break,
                    LoopEvent::Message(m) => lp.send(m).await,
                    LoopEvent::Drain { deadline } => {
                        let _ = st.events.send(Seen::Drain(deadline));
                        if st.end_on_drain {
                            lp.send("bye\n").await;
                            break;
                        }
                        lp.send("drain noticed\n").await;
                    }
                    LoopEvent::Closed => {
                        let _ = st.events.send(Seen::Closed);
                        break;
                    }
                }
            }
        }
    }))
}

struct Fixture {
    server: Server,
    mailboxes: mpsc::Receiver<Mailbox<String>>,
    events: mpsc::Receiver<Seen>,
}

fn start(adapter: Adapter, end_on_drain: bool) -> Fixture {
    let (mb_tx, mb_rx) = mpsc::channel();
    let (ev_tx, ev_rx) = mpsc::channel();
    let st = Arc::new(Shared {
        mailboxes: mb_tx,
        events: ev_tx,
        end_on_drain,
    });
    let routes = Routes::list([
        Route::get("/", |_req: Request| async { "ok" }),
        Route::get("/loop", looping).state(st),
    ]);
    Fixture {
        server: Server::start(adapter, opts(routes)),
        mailboxes: mb_rx,
        events: ev_rx,
    }
}

impl Fixture {
    /// Opens `GET /loop`, reads its head, and returns the client and the mailbox.
    fn open_loop(&self) -> (TcpWire, Mailbox<String>) {
        let mut w = TcpWire::connect(self.server.port());
        w.send(get_req("/loop"));
        let head = w.head();
        assert_eq!(head.status, 200, "{head:?}");
        assert!(head.has_token("transfer-encoding", "chunked"), "{head:?}");
        let mb = self
            .mailboxes
            .recv_timeout(IO_TIMEOUT)
            .expect("the loop handed out no mailbox");
        (w, mb)
    }

    fn event(&self) -> Seen {
        self.events
            .recv_timeout(IO_TIMEOUT)
            .expect("the loop reported nothing within 5 s")
    }
}

fn data(s: &str) -> Chunk {
    Chunk::Data(s.as_bytes().to_vec())
}

both!(messages_become_chunks_in_order, |adapter| {
    let f = start(adapter, false);
    let (mut w, mb) = f.open_loop();
    // One at a time...
    for m in ["alpha\n", "beta\n"] {
        mb.try_send(m.to_owned()).expect("room in the mailbox");
        assert_eq!(w.chunk(), data(m));
    }
    // ...and a burst, from another thread, through the async `send`.
    let burst: Vec<String> = (0..20).map(|i| format!("msg {i}\n")).collect();
    let sender = {
        let (mb, burst) = (mb.clone(), burst.clone());
        std::thread::spawn(move || {
            for m in burst {
                smol::block_on(mb.send(m)).expect("loop alive");
            }
        })
    };
    for m in &burst {
        assert_eq!(w.chunk(), data(m));
    }
    sender.join().expect("sender thread");
    // `end` finishes the body; the connection stays usable.
    mb.try_send("end".to_owned()).expect("room in the mailbox");
    assert_eq!(w.chunk(), Chunk::Last(vec![]));
    assert!(
        wait_until(IO_TIMEOUT, || mb.is_closed()),
        "mailbox of an ended loop still open"
    );
    assert_eq!(
        mb.try_send("late".to_owned()),
        Err(roadrunner_core::TrySendError::Ended("late".to_owned()))
    );
    w.send(get_req("/"));
    assert_eq!(w.response().text(), "ok");
    // The loop ended by itself: it was never told `Closed`.
    assert!(f.events.try_recv().is_err());
});

both!(
    client_gone_closes_the_mailbox_and_the_loop_sees_closed,
    |adapter| {
        let f = start(adapter, false);
        let (mut w, mb) = f.open_loop();
        mb.try_send("first\n".to_owned()).expect("room");
        assert_eq!(w.chunk(), data("first\n"));
        drop(w);
        // The server learns of the close by reading EOF/RST or by a failing write; keep
        // producing, as a real producer would, until the mailbox reports the loop gone.
        let mut n = 0;
        let closed = wait_until(IO_TIMEOUT, || {
            n += 1;
            let _ = mb.try_send(format!("after close {n}\n"));
            mb.is_closed()
        });
        assert!(
            closed,
            "mailbox still open 5 s after the client left ({n} sends)"
        );
        assert_eq!(
            mb.try_send("x".to_owned()),
            Err(roadrunner_core::TrySendError::Ended("x".to_owned()))
        );
        assert_eq!(
            smol::block_on(mb.send("y".to_owned())),
            Err(roadrunner_core::LoopEnded("y".to_owned()))
        );
        assert_eq!(f.event(), Seen::Closed);
        f.server
            .wait_info("connection released", |i| i.active_clients == 0);
    }
);

both!(notify_drain_reaches_the_loop_without_deadline, |adapter| {
    let f = start(adapter, false);
    let (mut w, mb) = f.open_loop();
    mb.try_send("before\n".to_owned()).expect("room");
    assert_eq!(w.chunk(), data("before\n"));
    f.server.listener().notify_drain();
    assert_eq!(f.event(), Seen::Drain(None));
    assert_eq!(w.chunk(), data("drain noticed\n"));
    // The loop goes on after the notice.
    mb.try_send("after\n".to_owned()).expect("room");
    assert_eq!(w.chunk(), data("after\n"));
    mb.try_send("end".to_owned()).expect("room");
    assert_eq!(w.chunk(), Chunk::Last(vec![]));
    // A busy connection that got the notice closes after its response.
    let (rest, _) = w.read_until_close();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    // notify_drain does not stop the listener.
    let mut fresh = TcpWire::connect(f.server.port());
    fresh.send(get_req("/"));
    assert_eq!(fresh.response().text(), "ok");
});

both!(
    drain_deadline_reaches_the_loop_and_ending_it_drains,
    |adapter| {
        let mut f = start(adapter, true);
        let (mut w, mb) = f.open_loop();
        mb.try_send("hi\n".to_owned()).expect("room");
        assert_eq!(w.chunk(), data("hi\n"));
        // Long, so that returning before it means the loop's end drained the listener,
        // however slow the machine.
        let timeout = Duration::from_secs(20);
        let listener = f.server.take_listener();
        let drainer = std::thread::spawn(move || {
            // Awaited off the adapter's runtime: `drain` works from any executor.
            let before = Instant::now();
            let outcome = smol::block_on(listener.drain(timeout));
            (before, outcome, Instant::now())
        });
        let seen = f.event();
        let got_event = Instant::now();
        assert_eq!(w.chunk(), data("bye\n"));
        assert_eq!(w.chunk(), Chunk::Last(vec![]));
        let (rest, _) = w.read_until_close();
        assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
        let (before, outcome, after) = drainer.join().expect("drain thread");
        assert_eq!(outcome, DrainOutcome::Drained);
        assert!(
            after - before < timeout,
            "drain took {:?} though the only loop ended on the notice",
            after - before
        );
        match seen {
            Seen::Drain(Some(deadline)) => {
                assert!(
                    deadline >= before + timeout && deadline <= got_event + timeout,
                    "deadline is now+{:?} at the call, expected now+{timeout:?}",
                    deadline.saturating_duration_since(before)
                );
            }
            other => panic!("expected Drain with a deadline, got {other:?}"),
        }
        drop(mb);
    }
);
