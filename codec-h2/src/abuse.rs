//! Abuse accounting: what a peer may make the server do without asking it to serve
//! anything, and the point past which the connection ends with
//! `GOAWAY(ENHANCE_YOUR_CALM)`.
//!
//! The codec has no clock, so no budget is "per second". Each is a token bucket that
//! starts full and is refilled by useful work: a request received, or a response
//! completed. A peer doing mostly useful work never runs one dry; a flood runs it dry
//! after `burst` frames however fast or slow they come. The numbers:
//!
//! | Budget | Spent on | Burst | Refill |
//! |---|---|---|---|
//! | resets | the peer resets a stream whose response is not complete (rapid reset, CVE-2023-44487); we reset or refuse a stream for the peer's fault: a stream error, `REFUSED_STREAM` over `max_concurrent_streams`, `431`, `413` (MadeYouReset, CVE-2025-8671; reset flood, CVE-2019-9514) | 200 | 1 per response completed |
//! | priority | a PRIORITY frame (resource loop, CVE-2019-9513) | 1000 | 10 per request |
//! | settings | a SETTINGS frame (settings flood, CVE-2019-9515) | 64 | 1 per request |
//! | empty | a frame that carries nothing: DATA with no data and no END_STREAM, HEADERS or CONTINUATION with no fragment and no END_HEADERS, a frame of unknown type, a PING or SETTINGS acknowledgement of nothing we sent (empty frames, CVE-2019-9518) | 256 | 4 per request |
//!
//! Why these numbers:
//! - resets: every reset stream may have cost a handler's start, and the peer's
//!   cost is a few bytes. After a burst of 200 (twice the default
//!   `max_concurrent_streams`: a browser leaving a page cancels at most what it had
//!   open), the peer has to let a response complete for every stream cut short, so at
//!   most half the work it causes is thrown away.
//! - priority: the server ignores priorities, so a PRIORITY frame costs a parse and a
//!   lookup. Clients that send them (older Firefox builds a tree of five at the start,
//!   some reprioritise streams as a page loads) send a handful per request.
//! - settings: a SETTINGS frame with a new initial window walks every open stream, up
//!   to `max_concurrent_streams` of work for 15 bytes. Clients send one at the start
//!   and rarely another.
//! - empty: such frames are legal, and a client may send one now and then (an empty
//!   DATA frame a library flushes, a GREASE frame of reserved type), never many per
//!   request.
//!
//! Two defences need no bucket:
//! - Answers the peer does not read (ping flood, CVE-2019-9512; settings flood). The
//!   connection stops reading while its control backlog is over
//!   `MAX_CONTROL_BACKLOG` ([`wants_read`](crate::ServerConn::wants_read)), and more than
//!   [`MAX_UNREAD_ACKS`] PING or SETTINGS acknowledgements waiting between two
//!   `poll_transmit` calls is abuse: no client asks that many questions at once.
//! - Header blocks (CONTINUATION flood): besides `max_header_block` bytes, at most
//!   [`MAX_CONTINUATIONS`] CONTINUATION frames per block, so empty ones cannot go on
//!   for ever.
//!
//! What the codec cannot see, the driver must do:
//! - Stop a stream's work when [`Event::Reset`](crate::Event::Reset) comes, before it
//!   polls the next event. The codec frees a reset stream's slot at once, and the
//!   events of later streams come only after that `Reset`; so a driver that stops (or
//!   counts as still running, and stops polling events while it has
//!   `max_concurrent_streams` running) keeps the work in flight within the limit.
//! - Read only while `wants_read` says so, and call `poll_transmit` only when the
//!   socket has taken what the last call gave: then the output the peer does not read
//!   stays in the codec, where the backlog and the unread acks are counted.

use crate::error::{ConnError, ErrorCode};
use crate::frame::Frame;

/// What the peer made the connection spend a token on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cost {
    /// The peer reset a stream before its response was complete.
    PeerReset,
    /// We reset or refused a stream for the peer's fault.
    ProvokedReset,
    /// A PRIORITY frame.
    Priority,
    /// A SETTINGS frame (not an ACK).
    Settings,
    /// A frame that carries nothing (see [`is_empty`]), or an acknowledgement of
    /// nothing we sent.
    Empty,
}

impl Cost {
    /// Both kinds of reset share one bucket: a peer mixing them is no better.
    fn bucket(self) -> usize {
        match self {
            Cost::PeerReset | Cost::ProvokedReset => 0,
            Cost::Priority => 1,
            Cost::Settings => 2,
            Cost::Empty => 3,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Cost::PeerReset => "too many streams reset by the peer",
            Cost::ProvokedReset => "too many streams reset for the peer's errors",
            Cost::Priority => "too many PRIORITY frames",
            Cost::Settings => "too many SETTINGS frames",
            Cost::Empty => "too many empty frames",
        }
    }
}

/// Useful work, which refills the budgets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// A request head reached the application.
    Request,
    /// A stream's response went out whole, and its request ended.
    Response,
}

/// One bucket's numbers (the table in the module docs).
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// Tokens at the start, and at most.
    pub burst: u32,
    /// Tokens a request received gives back.
    pub per_request: u32,
    /// Tokens a response completed gives back.
    pub per_response: u32,
}

/// Token buckets that start full, lose a token for each thing a peer makes the
/// connection do unasked, and are refilled by useful work: no clock. HTTP/3 keeps its
/// own rules on the same buckets.
#[derive(Debug)]
pub struct Buckets<const N: usize> {
    tokens: [u32; N],
    rules: &'static [Rule; N],
}

impl<const N: usize> Buckets<N> {
    /// Full buckets for `rules`.
    pub fn new(rules: &'static [Rule; N]) -> Self {
        Buckets {
            tokens: rules.map(|r| r.burst),
            rules,
        }
    }

    /// Takes a token from bucket `i`; `false` when it is empty.
    pub fn take(&mut self, i: usize) -> bool {
        match self.tokens[i].checked_sub(1) {
            Some(left) => {
                self.tokens[i] = left;
                true
            }
            None => false,
        }
    }

    /// Refills every bucket for `work`, up to its burst.
    pub fn earn(&mut self, work: Work) {
        for (tokens, rule) in self.tokens.iter_mut().zip(self.rules) {
            let n = match work {
                Work::Request => rule.per_request,
                Work::Response => rule.per_response,
            };
            *tokens = tokens.saturating_add(n).min(rule.burst);
        }
    }
}

/// Indexed by [`Cost::bucket`].
const RULES: [Rule; 4] = [
    // resets
    Rule {
        burst: 200,
        per_request: 0,
        per_response: 1,
    },
    // priority
    Rule {
        burst: 1000,
        per_request: 10,
        per_response: 0,
    },
    // settings
    Rule {
        burst: 64,
        per_request: 1,
        per_response: 0,
    },
    // empty
    Rule {
        burst: 256,
        per_request: 4,
        per_response: 0,
    },
];

/// The token buckets of one connection.
pub(crate) struct Budgets(Buckets<{ RULES.len() }>);

impl Budgets {
    pub(crate) fn new() -> Self {
        Budgets(Buckets::new(&RULES))
    }

    /// Takes one token for `cost`; none left is `ENHANCE_YOUR_CALM`.
    pub(crate) fn spend(&mut self, cost: Cost) -> Result<(), ConnError> {
        if self.0.take(cost.bucket()) {
            Ok(())
        } else {
            Err(ConnError::new(ErrorCode::ENHANCE_YOUR_CALM, cost.reason()))
        }
    }

    pub(crate) fn earn(&mut self, work: Work) {
        self.0.earn(work);
    }
}

/// PING and SETTINGS acknowledgements queued between two `poll_transmit` calls past
/// which the peer is flooding: a client has at most a few pings out (keepalive, a
/// bandwidth probe) and one SETTINGS, and a driver takes the output after each read.
pub const MAX_UNREAD_ACKS: u32 = 100;

/// Counts the acknowledgements waiting in the control backlog.
#[derive(Default)]
pub(crate) struct UnreadAcks(u32);

impl UnreadAcks {
    /// One more acknowledgement queued.
    pub(crate) fn queue(&mut self) -> Result<(), ConnError> {
        self.0 += 1;
        if self.0 > MAX_UNREAD_ACKS {
            return Err(ConnError::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "too many PING or SETTINGS answers unread",
            ));
        }
        Ok(())
    }

    /// The application took the output.
    pub(crate) fn taken(&mut self) {
        self.0 = 0;
    }
}

/// CONTINUATION frames one header block may have. An encoder fills frames up to the
/// 16 KiB frame size we allow, so a block within the default `max_header_block` needs
/// one; 64 carry a 1 MiB block, and leave room for encoders that split small.
pub const MAX_CONTINUATIONS: u32 = 64;

/// Counts one more CONTINUATION of a block that has had `count` so far.
pub(crate) fn continuation(count: &mut u32) -> Result<(), ConnError> {
    *count += 1;
    if *count > MAX_CONTINUATIONS {
        return Err(ConnError::new(
            ErrorCode::ENHANCE_YOUR_CALM,
            "too many CONTINUATION frames in a header block",
        ));
    }
    Ok(())
}

/// A frame that asks nothing of the server and moves nothing forward.
pub(crate) fn is_empty(frame: &Frame) -> bool {
    match frame {
        Frame::Data {
            data, end_stream, ..
        } => data.is_empty() && !end_stream,
        Frame::Headers {
            fragment,
            end_headers,
            ..
        }
        | Frame::Continuation {
            fragment,
            end_headers,
            ..
        } => fragment.is_empty() && !end_headers,
        Frame::Unknown { .. } => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_runs_dry_after_its_burst_and_work_refills_it_up_to_the_burst() {
        let mut b = Budgets::new();
        for _ in 0..64 {
            b.spend(Cost::Settings).expect("within the burst");
        }
        let e = b.spend(Cost::Settings).expect_err("dry");
        assert_eq!(e.code, ErrorCode::ENHANCE_YOUR_CALM);
        b.earn(Work::Request);
        b.spend(Cost::Settings).expect("one earned");
        for _ in 0..1000 {
            b.earn(Work::Request);
        }
        for _ in 0..64 {
            b.spend(Cost::Settings).expect("refilled");
        }
        assert!(b.spend(Cost::Settings).is_err(), "never above the burst");
    }

    #[test]
    fn both_kinds_of_reset_share_a_bucket_that_only_responses_refill() {
        let mut b = Budgets::new();
        for i in 0..200 {
            let cost = if i % 2 == 0 {
                Cost::PeerReset
            } else {
                Cost::ProvokedReset
            };
            b.spend(cost).expect("within the burst");
            b.earn(Work::Request);
        }
        assert!(b.spend(Cost::PeerReset).is_err(), "requests do not refill");
        b.earn(Work::Response);
        b.spend(Cost::ProvokedReset).expect("a response does");
    }

    #[test]
    fn acks_count_until_the_output_is_taken() {
        let mut acks = UnreadAcks::default();
        for _ in 0..MAX_UNREAD_ACKS {
            acks.queue().expect("within the limit");
        }
        acks.taken();
        for _ in 0..MAX_UNREAD_ACKS {
            acks.queue().expect("counted afresh");
        }
        assert!(acks.queue().is_err());
    }
}
