//! The stream state machine of RFC 9113 §5.1, as a server sees it, and the stream-id
//! rules of §5.1.1.
//!
//! The whole machine is two `match`es, [`on_recv`] and [`on_send`], over this table
//! (`ES` is END_STREAM; `half(R)`/`half(L)` half-closed (remote/local); `closed(ES)`
//! closed by END_STREAM both ways, `closed(P)`/`closed(L)` by the peer's/our
//! RST_STREAM; `conn X`/`strm X` a connection/stream error with code X; `=` no change;
//! `ign` the frame is ignored and the state unchanged; `-` not allowed):
//!
//! ```text
//!  received           HEADERS    HEADERS+ES  DATA       DATA+ES    RST_STREAM  WINDOW_UPD  PRIORITY
//!  idle               open       half(R)     conn PROTO conn PROTO conn PROTO  conn PROTO  =
//!  open               strm PROTO half(R)     =          half(R)    closed(P)   =           =
//!  half-closed (L)    strm PROTO closed(ES)  =          closed(ES) closed(P)   =           =
//!  half-closed (R)    strm CLSD  strm CLSD   strm CLSD  strm CLSD  closed(P)   =           =
//!  closed (ES)        conn CLSD  conn CLSD   conn CLSD  conn CLSD  ign         ign         ign
//!  closed (P)         strm CLSD  strm CLSD   strm CLSD  strm CLSD  ign         strm CLSD   ign
//!  closed (L)         ign        ign         ign        ign        ign         ign         ign
//!  closed (forgotten) conn CLSD  conn CLSD   conn CLSD  conn CLSD  ign         ign         ign
//!
//!  sent               HEADERS    HEADERS+ES  DATA       DATA+ES    RST_STREAM
//!  idle               -          -           -          -          -
//!  open               =          half(L)     =          half(L)    closed(L)
//!  half-closed (R)    =          closed(ES)  =          closed(ES) closed(L)
//!  half-closed (L)    -          -           -          -          closed(L)
//!  closed (P)         -          -           -          -          closed(L)
//!  other closed       -          -           -          -          -
//! ```
//!
//! It mirrors the RFC's figure without the reserved states: this server never sends
//! PUSH_PROMISE and a client cannot (§8.4), so no stream is ever reserved. CONTINUATION
//! frames are not events: they carry the rest of a HEADERS frame's header block, which
//! the connection assembles, and the HEADERS event stands for the whole block.
//!
//! The RFC's closed state behaves differently depending on how the stream closed, so
//! [`State::Closed`] records it ([`ClosedBy`]):
//!
//! - Both sides sent END_STREAM ([`ClosedBy::EndStream`]): the peer may not have seen
//!   our END_STREAM yet, so its WINDOW_UPDATE and RST_STREAM are ignored; HEADERS or
//!   DATA after its own END_STREAM are a connection error STREAM_CLOSED.
//! - The peer reset the stream ([`ClosedBy::PeerReset`]): anything but PRIORITY is a
//!   stream error STREAM_CLOSED, except a RST_STREAM, which is never answered with
//!   another (§5.4.2).
//! - We reset the stream ([`ClosedBy::LocalReset`]): the peer may have sent anything
//!   before it saw our RST_STREAM, so every frame is ignored (DATA still counts against
//!   the connection window, §6.9).
//! - The connection no longer holds the stream ([`ClosedBy::Forgotten`]). The
//!   connection is to keep a bounded memory of the streams it recently reset, so late
//!   frames on them are ignored as above, and may drop a stream closed by END_STREAM
//!   at once. A stream it no longer holds (or an idle id that a higher one implicitly closed,
//!   §5.1.1) was therefore closed long ago or by END_STREAM: HEADERS or DATA on it
//!   are a connection error STREAM_CLOSED. WINDOW_UPDATE and RST_STREAM are ignored
//!   because a client's may legitimately still be in flight after our END_STREAM;
//!   killing the connection for them would be harsher than the RFC asks.

use std::fmt;

use crate::error::{ConnError, ErrorCode, StreamError};

/// The state of one stream (§5.1), for a server that never pushes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Not yet opened by the client's HEADERS.
    Idle,
    /// Both sides may send.
    Open,
    /// The client has sent END_STREAM; only we may send.
    HalfClosedRemote,
    /// We have sent END_STREAM; only the client may send.
    HalfClosedLocal,
    /// Terminal, recording why (late frames are judged by it).
    Closed(ClosedBy),
}

/// How a stream reached [`State::Closed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClosedBy {
    /// Both sides sent END_STREAM.
    EndStream,
    /// The peer sent RST_STREAM.
    PeerReset,
    /// We sent RST_STREAM.
    LocalReset,
    /// The connection no longer holds the stream: closed long ago, or an idle id
    /// implicitly closed by a higher one. Only ever constructed by the connection.
    Forgotten,
}

/// A frame received on a stream, as the state machine sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecvEvent {
    /// A HEADERS frame with its whole header block (CONTINUATION included).
    Headers {
        /// The END_STREAM flag.
        end_stream: bool,
    },
    /// A DATA frame.
    Data {
        /// The END_STREAM flag.
        end_stream: bool,
    },
    /// A RST_STREAM frame.
    RstStream,
    /// A WINDOW_UPDATE frame on this stream.
    WindowUpdate,
    /// A PRIORITY frame (it never changes the state).
    Priority,
}

/// A frame we are about to send on a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SendEvent {
    /// A HEADERS frame (response headers, a 1xx, or trailers).
    Headers {
        /// The END_STREAM flag.
        end_stream: bool,
    },
    /// A DATA frame.
    Data {
        /// The END_STREAM flag.
        end_stream: bool,
    },
    /// A RST_STREAM frame.
    RstStream,
}

/// Whether an error ends the connection (GOAWAY) or one stream (RST_STREAM).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// A connection error (§5.4.1).
    Connection,
    /// A stream error (§5.4.2).
    Stream,
}

/// A received frame the stream's state does not allow, with the RFC's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Whether it ends the connection or the stream.
    pub scope: Scope,
    /// The wire code.
    pub code: ErrorCode,
    /// What was wrong, for logs.
    pub reason: &'static str,
}

impl Violation {
    const fn conn(code: ErrorCode, reason: &'static str) -> Self {
        Violation {
            scope: Scope::Connection,
            code,
            reason,
        }
    }

    const fn stream(code: ErrorCode, reason: &'static str) -> Self {
        Violation {
            scope: Scope::Stream,
            code,
            reason,
        }
    }

    /// The error to send for this violation on `stream`: `Ok` is a RST_STREAM that
    /// ends only that stream, `Err` ends the connection (as does anything on stream
    /// 0, which cannot be reset). Shaped so the connection can write
    /// `let reset = v.for_stream(id)?;`.
    pub fn for_stream(self, stream: u32) -> Result<StreamError, ConnError> {
        match self.scope {
            Scope::Stream if stream != 0 => Ok(StreamError {
                stream,
                code: self.code,
                reason: self.reason,
            }),
            _ => Err(ConnError::new(self.code, self.reason)),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = match self.scope {
            Scope::Connection => "connection",
            Scope::Stream => "stream",
        };
        write!(f, "{scope} error {}: {}", self.code, self.reason)
    }
}

impl std::error::Error for Violation {}

/// A frame we may not send in the stream's state: a bug in the connection or a misuse
/// by the application (such as sending after the end), never the peer's doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendError {
    /// The state the stream was in.
    pub state: State,
    /// What was to be sent.
    pub event: SendEvent,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot send {:?} on a stream in state {:?}",
            self.event, self.state
        )
    }
}

impl std::error::Error for SendError {}

const IDLE_FRAME: Violation = Violation::conn(
    ErrorCode::PROTOCOL_ERROR,
    "frame other than HEADERS or PRIORITY on an idle stream",
);
const SECOND_HEADERS: Violation = Violation::stream(
    ErrorCode::PROTOCOL_ERROR,
    "HEADERS after the request headers without END_STREAM",
);
const AFTER_END_STREAM: Violation = Violation::stream(
    ErrorCode::STREAM_CLOSED,
    "frame after the client's END_STREAM",
);
const CLOSED_AFTER_END_STREAM: Violation = Violation::conn(
    ErrorCode::STREAM_CLOSED,
    "HEADERS or DATA on a stream closed by END_STREAM or long ago",
);
const AFTER_PEER_RESET: Violation = Violation::stream(
    ErrorCode::STREAM_CLOSED,
    "frame on a stream the client reset",
);

/// The state after receiving `event` on a stream in `state`, or the violation to
/// answer with. On `Err` the state is unchanged; for a stream-scoped violation the
/// connection then sends RST_STREAM ([`on_send`] allows it in every such state).
/// `Ok(State::Closed(_))` from a closed state means the frame is ignored.
pub fn on_recv(state: State, event: RecvEvent) -> Result<State, Violation> {
    use ClosedBy::*;
    use RecvEvent::*;
    use State::*;
    match (state, event) {
        (Idle, Headers { end_stream: false }) => Ok(Open),
        (Idle, Headers { end_stream: true }) => Ok(HalfClosedRemote),
        (Idle, Priority) => Ok(Idle),
        (Idle, Data { .. } | RstStream | WindowUpdate) => Err(IDLE_FRAME),

        // A client sends no 1xx, so a second HEADERS can only be trailers (§8.1).
        (Open, Headers { end_stream: true }) => Ok(HalfClosedRemote),
        (Open, Data { end_stream: true }) => Ok(HalfClosedRemote),
        (HalfClosedLocal, Headers { end_stream: true } | Data { end_stream: true }) => {
            Ok(Closed(EndStream))
        }
        (Open | HalfClosedLocal, Headers { end_stream: false }) => Err(SECOND_HEADERS),
        (Open | HalfClosedLocal, Data { end_stream: false } | WindowUpdate | Priority) => Ok(state),

        (HalfClosedRemote, Headers { .. } | Data { .. }) => Err(AFTER_END_STREAM),
        (HalfClosedRemote, WindowUpdate | Priority) => Ok(state),

        (Open | HalfClosedLocal | HalfClosedRemote, RstStream) => Ok(Closed(PeerReset)),

        (Closed(_), Priority) => Ok(state),
        (Closed(LocalReset), _) => Ok(state),
        (Closed(EndStream | Forgotten), RstStream | WindowUpdate) => Ok(state),
        (Closed(EndStream | Forgotten), Headers { .. } | Data { .. }) => {
            Err(CLOSED_AFTER_END_STREAM)
        }
        // Never answer a RST_STREAM with one (§5.4.2).
        (Closed(PeerReset), RstStream) => Ok(state),
        (Closed(PeerReset), Headers { .. } | Data { .. } | WindowUpdate) => Err(AFTER_PEER_RESET),
    }
}

/// The state after sending `event` on a stream in `state`, or an error if the state
/// forbids it. On `Err` nothing may be sent and the state is unchanged.
///
/// RST_STREAM is allowed on a stream the peer reset: the RFC answers frames received
/// there with a stream error STREAM_CLOSED, which is a RST_STREAM.
pub fn on_send(state: State, event: SendEvent) -> Result<State, SendError> {
    use ClosedBy::*;
    use SendEvent::*;
    use State::*;
    match (state, event) {
        (Open, Headers { end_stream: false } | Data { end_stream: false }) => Ok(Open),
        (Open, Headers { end_stream: true } | Data { end_stream: true }) => Ok(HalfClosedLocal),
        (HalfClosedRemote, Headers { end_stream: false } | Data { end_stream: false }) => {
            Ok(HalfClosedRemote)
        }
        (HalfClosedRemote, Headers { end_stream: true } | Data { end_stream: true }) => {
            Ok(Closed(EndStream))
        }
        (Open | HalfClosedRemote | HalfClosedLocal | Closed(PeerReset), RstStream) => {
            Ok(Closed(LocalReset))
        }
        // Idle: a server opens no streams, and RST_STREAM is forbidden there (§6.4).
        (Idle, _)
        | (HalfClosedLocal, Headers { .. } | Data { .. })
        | (Closed(PeerReset), Headers { .. } | Data { .. })
        | (Closed(EndStream | LocalReset | Forgotten), _) => Err(SendError { state, event }),
    }
}

/// Stream ids are 31 bits (§5.1.1); the frame layer clears the reserved bit, this
/// guards against a caller that didn't.
pub const MAX_STREAM_ID: u32 = (1 << 31) - 1;

/// The client-initiated stream ids seen on a connection (§5.1.1). A server never
/// initiates streams, so even ids are never opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamIds {
    highest: u32,
}

impl StreamIds {
    /// No stream opened yet.
    pub fn new() -> Self {
        StreamIds::default()
    }

    /// Records `id` as a new client stream (a HEADERS on an id the connection holds no
    /// stream for). It must be odd and above every id opened before: anything else is
    /// a connection error PROTOCOL_ERROR. Ids the client skipped are thereby closed.
    pub fn open(&mut self, id: u32) -> Result<(), ConnError> {
        if id % 2 == 0 {
            return Err(ConnError::new(
                ErrorCode::PROTOCOL_ERROR,
                "client opened a stream with an even id",
            ));
        }
        if id <= self.highest {
            return Err(ConnError::new(
                ErrorCode::PROTOCOL_ERROR,
                "client stream id not above the previous one",
            ));
        }
        if id > MAX_STREAM_ID {
            return Err(ConnError::new(
                ErrorCode::PROTOCOL_ERROR,
                "stream id past 2^31-1",
            ));
        }
        self.highest = id;
        Ok(())
    }

    /// The highest stream id opened, 0 if none: GOAWAY's last-stream-id.
    pub fn last_opened(&self) -> u32 {
        self.highest
    }

    /// Whether `id` names a stream still idle: an odd id above every one opened, or
    /// any even id other than 0 (streams only a server could open, and this one
    /// doesn't). An odd id at or below [`last_opened`](Self::last_opened) that the
    /// connection doesn't hold is [`ClosedBy::Forgotten`].
    pub fn is_idle(&self, id: u32) -> bool {
        id != 0 && (id % 2 == 0 || id > self.highest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ClosedBy::*;
    use State::*;

    const H: RecvEvent = RecvEvent::Headers { end_stream: false };
    const H_ES: RecvEvent = RecvEvent::Headers { end_stream: true };
    const D: RecvEvent = RecvEvent::Data { end_stream: false };
    const D_ES: RecvEvent = RecvEvent::Data { end_stream: true };
    const RST: RecvEvent = RecvEvent::RstStream;
    const WU: RecvEvent = RecvEvent::WindowUpdate;
    const PRIO: RecvEvent = RecvEvent::Priority;
    const RECV: [RecvEvent; 7] = [H, H_ES, D, D_ES, RST, WU, PRIO];

    const SH: SendEvent = SendEvent::Headers { end_stream: false };
    const SH_ES: SendEvent = SendEvent::Headers { end_stream: true };
    const SD: SendEvent = SendEvent::Data { end_stream: false };
    const SD_ES: SendEvent = SendEvent::Data { end_stream: true };
    const SRST: SendEvent = SendEvent::RstStream;
    const SEND: [SendEvent; 5] = [SH, SH_ES, SD, SD_ES, SRST];

    const STATES: [State; 8] = [
        Idle,
        Open,
        HalfClosedRemote,
        HalfClosedLocal,
        Closed(EndStream),
        Closed(PeerReset),
        Closed(LocalReset),
        Closed(Forgotten),
    ];

    /// What a received frame should lead to: a state, or a violation's scope and code.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Want {
        To(State),
        Conn(ErrorCode),
        Strm(ErrorCode),
    }
    use Want::*;

    const PROTO: ErrorCode = ErrorCode::PROTOCOL_ERROR;
    const CLSD: ErrorCode = ErrorCode::STREAM_CLOSED;

    /// The module's table, row by row, in `RECV` order.
    fn recv_table(state: State) -> [Want; 7] {
        match state {
            Idle => [
                To(Open),
                To(HalfClosedRemote),
                Conn(PROTO),
                Conn(PROTO),
                Conn(PROTO),
                Conn(PROTO),
                To(Idle),
            ],
            Open => [
                Strm(PROTO),
                To(HalfClosedRemote),
                To(Open),
                To(HalfClosedRemote),
                To(Closed(PeerReset)),
                To(Open),
                To(Open),
            ],
            HalfClosedLocal => [
                Strm(PROTO),
                To(Closed(EndStream)),
                To(HalfClosedLocal),
                To(Closed(EndStream)),
                To(Closed(PeerReset)),
                To(HalfClosedLocal),
                To(HalfClosedLocal),
            ],
            HalfClosedRemote => [
                Strm(CLSD),
                Strm(CLSD),
                Strm(CLSD),
                Strm(CLSD),
                To(Closed(PeerReset)),
                To(HalfClosedRemote),
                To(HalfClosedRemote),
            ],
            Closed(EndStream) => [
                Conn(CLSD),
                Conn(CLSD),
                Conn(CLSD),
                Conn(CLSD),
                To(state),
                To(state),
                To(state),
            ],
            Closed(PeerReset) => [
                Strm(CLSD),
                Strm(CLSD),
                Strm(CLSD),
                Strm(CLSD),
                To(state),
                Strm(CLSD),
                To(state),
            ],
            Closed(LocalReset) => [To(state); 7],
            Closed(Forgotten) => [
                Conn(CLSD),
                Conn(CLSD),
                Conn(CLSD),
                Conn(CLSD),
                To(state),
                To(state),
                To(state),
            ],
        }
    }

    /// The module's send table, in `SEND` order; `None` is refused.
    fn send_table(state: State) -> [Option<State>; 5] {
        match state {
            Idle => [None; 5],
            Open => [
                Some(Open),
                Some(HalfClosedLocal),
                Some(Open),
                Some(HalfClosedLocal),
                Some(Closed(LocalReset)),
            ],
            HalfClosedRemote => [
                Some(HalfClosedRemote),
                Some(Closed(EndStream)),
                Some(HalfClosedRemote),
                Some(Closed(EndStream)),
                Some(Closed(LocalReset)),
            ],
            HalfClosedLocal | Closed(PeerReset) => {
                [None, None, None, None, Some(Closed(LocalReset))]
            }
            Closed(EndStream | LocalReset | Forgotten) => [None; 5],
        }
    }

    #[test]
    fn every_received_frame_in_every_state() {
        for state in STATES {
            for (event, want) in RECV.into_iter().zip(recv_table(state)) {
                let got = match on_recv(state, event) {
                    Ok(next) => To(next),
                    Err(v) => {
                        assert!(!v.reason.is_empty());
                        match v.scope {
                            Scope::Connection => Conn(v.code),
                            Scope::Stream => Strm(v.code),
                        }
                    }
                };
                assert_eq!(got, want, "{event:?} received in {state:?}");
            }
        }
    }

    #[test]
    fn every_sent_frame_in_every_state() {
        for state in STATES {
            for (event, want) in SEND.into_iter().zip(send_table(state)) {
                let got = on_send(state, event);
                match want {
                    Some(next) => assert_eq!(got, Ok(next), "{event:?} sent in {state:?}"),
                    None => assert_eq!(got, Err(SendError { state, event })),
                }
            }
        }
    }

    #[test]
    fn a_request_and_its_response_run_the_usual_course() {
        // GET: headers with END_STREAM, then the response.
        let s = on_recv(Idle, H_ES).unwrap();
        let s = on_send(s, SH).unwrap();
        let s = on_send(s, SD).unwrap();
        assert_eq!(on_send(s, SD_ES), Ok(Closed(EndStream)));

        // POST with trailers, answered before the body ends.
        let s = on_recv(Idle, H).unwrap();
        let s = on_recv(s, D).unwrap();
        let s = on_send(s, SH_ES).unwrap();
        assert_eq!(s, HalfClosedLocal);
        let s = on_recv(s, D).unwrap();
        assert_eq!(on_recv(s, H_ES), Ok(Closed(EndStream)));
    }

    #[test]
    fn violations_become_the_errors_to_send() {
        let v = on_recv(HalfClosedRemote, D).unwrap_err();
        let reset = v.for_stream(7).unwrap();
        assert_eq!((reset.stream, reset.code), (7, ErrorCode::STREAM_CLOSED));

        let v = on_recv(Idle, D).unwrap_err();
        let err = v.for_stream(7).unwrap_err();
        assert_eq!(err.code, ErrorCode::PROTOCOL_ERROR);

        // Nothing on stream 0 can be reset.
        assert!(on_recv(HalfClosedRemote, D)
            .unwrap_err()
            .for_stream(0)
            .is_err());
        assert!(v.to_string().starts_with("connection error PROTOCOL_ERROR"));
    }

    #[test]
    fn every_stream_violation_can_be_answered_with_rst_stream() {
        for state in STATES {
            for event in RECV {
                if let Err(v) = on_recv(state, event) {
                    if v.scope == Scope::Stream {
                        assert_eq!(on_send(state, SRST), Ok(Closed(LocalReset)));
                    }
                }
            }
        }
    }

    #[test]
    fn stream_ids_must_be_odd_and_increasing() {
        let mut ids = StreamIds::new();
        assert_eq!(ids.last_opened(), 0);
        assert!(ids.is_idle(1) && ids.is_idle(2) && !ids.is_idle(0));

        assert_eq!(ids.open(1), Ok(()));
        assert_eq!(ids.open(7), Ok(()));
        assert_eq!(ids.last_opened(), 7);
        // 3 and 5 were skipped, so they are closed now (§5.1.1).
        assert!(!ids.is_idle(3) && !ids.is_idle(5) && !ids.is_idle(7));
        assert!(ids.is_idle(9) && ids.is_idle(4));

        for bad in [0, 2, 8, 3, 7, 1 << 31 | 9] {
            let err = ids.open(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::PROTOCOL_ERROR, "id {bad}");
        }
        assert_eq!(ids.last_opened(), 7, "refused ids change nothing");
        assert_eq!(ids.open((1 << 31) - 1), Ok(()));
        assert_eq!(
            ids.open(u32::MAX).unwrap_err().code,
            ErrorCode::PROTOCOL_ERROR
        );
    }

    #[derive(Clone, Copy, Debug)]
    enum Step {
        Recv(RecvEvent),
        Send(SendEvent),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            proptest::sample::select(RECV.to_vec()).prop_map(Step::Recv),
            proptest::sample::select(SEND.to_vec()).prop_map(Step::Send),
        ]
    }

    proptest! {
        /// Drives a stream as the connection would: a stream violation is answered
        /// with RST_STREAM, a connection violation ends everything.
        #[test]
        fn a_closed_stream_stays_closed(
            start in proptest::sample::select(STATES.to_vec()),
            steps in proptest::collection::vec(step(), 0..40),
        ) {
            let mut state = start;
            let mut left_idle = false;
            let (mut peer_ended, mut we_ended) = (false, false);
            for step in steps {
                let was_closed = matches!(state, Closed(_));
                match step {
                    Step::Recv(event) => match on_recv(state, event) {
                        Ok(next) => {
                            let content = matches!(event, RecvEvent::Headers { .. } | RecvEvent::Data { .. });
                            // After the client's END_STREAM, content is only ever ignored.
                            if peer_ended && content {
                                prop_assert_eq!(next, Closed(LocalReset));
                            }
                            peer_ended |= matches!(event, H_ES | D_ES);
                            state = next;
                        }
                        Err(v) => match v.scope {
                            Scope::Connection => break,
                            Scope::Stream => {
                                let next = on_send(state, SRST);
                                prop_assert_eq!(next, Ok(Closed(LocalReset)));
                                state = Closed(LocalReset);
                            }
                        },
                    },
                    Step::Send(event) => {
                        if let Ok(next) = on_send(state, event) {
                            prop_assert!(!we_ended || event == SRST, "sent after our END_STREAM");
                            we_ended |= matches!(event, SH_ES | SD_ES);
                            state = next;
                        }
                    }
                }
                // Once closed, always closed.
                if was_closed {
                    prop_assert!(matches!(state, Closed(_)));
                }
                // Nor does a stream ever go back to idle.
                left_idle |= state != Idle;
                prop_assert!(!(left_idle && state == Idle));
            }
        }
    }
}
