//! Abuse accounting: what a peer may make the server do without asking it to serve
//! anything, and the point past which the connection ends with H3_EXCESSIVE_LOAD.
//!
//! As in the HTTP/2 codec (`roadrunner_h2::abuse`), there is no clock, so no budget is
//! "per second": each is a token bucket that starts full and is refilled by useful
//! work, a request received or a response completed. A peer doing mostly useful work
//! never runs one dry; a flood runs it dry after `burst` frames or streams, however fast
//! or slow they come.
//!
//! | Budget | Spent on | Burst | Refill |
//! |---|---|---|---|
//! | resets | the peer resets a request stream, or asks us to stop sending on it, before its response is complete (the QUIC form of rapid reset, CVE-2023-44487); we reset or refuse a stream for the peer's fault: a malformed request, `431`, `413`, a stream that ends without a request, a stream past our GOAWAY (MadeYouReset, CVE-2025-8671) | 200 | 1 per response completed |
//! | empty | a frame that carries nothing: a DATA frame with no payload, a frame of unknown or reserved type; a unidirectional stream of unknown or reserved type (empty frames, CVE-2019-9518) | 256 | 4 per request |
//!
//! Why these numbers: see the HTTP/2 codec, whose buckets these are. QUIC already bounds
//! what HTTP/2 needed more buckets for: the peer cannot change settings (SETTINGS comes
//! once), HTTP/3 has no PRIORITY or PING frames (QUIC's PINGs and ACKs are quinn's),
//! and QUIC's stream limits bound how many streams are open at once.
//!
//! What the codec cannot see, the driver must do: stop a stream's work when
//! [`Event::Reset`](crate::Event::Reset) comes, before it polls the next event. A reset
//! stream's QUIC slot is given back to the peer once both its halves are closed, and
//! the events of the streams opened in its place come after that `Reset`.

pub(crate) use roadrunner_h2::abuse::Work;
use roadrunner_h2::abuse::{Buckets, Rule};

use crate::error::{ConnError, ErrorCode};

/// What the peer made the connection spend a token on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cost {
    /// The peer reset or stopped a request stream before its response was complete.
    PeerReset,
    /// We reset or refused a stream for the peer's fault.
    ProvokedReset,
    /// A frame that carries nothing, or a unidirectional stream of no known type.
    Empty,
}

impl Cost {
    /// Both kinds of reset share one bucket: a peer mixing them is no better.
    fn bucket(self) -> usize {
        match self {
            Cost::PeerReset | Cost::ProvokedReset => 0,
            Cost::Empty => 1,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Cost::PeerReset => "too many requests cancelled by the peer",
            Cost::ProvokedReset => "too many streams reset for the peer's errors",
            Cost::Empty => "too many empty frames or unknown streams",
        }
    }
}

/// Indexed by [`Cost::bucket`].
const RULES: [Rule; 2] = [
    // resets
    Rule {
        burst: 200,
        per_request: 0,
        per_response: 1,
    },
    // empty
    Rule {
        burst: 256,
        per_request: 4,
        per_response: 0,
    },
];

/// The token buckets of one connection.
#[derive(Debug)]
pub(crate) struct Budgets(Buckets<{ RULES.len() }>);

impl Budgets {
    pub(crate) fn new() -> Self {
        Budgets(Buckets::new(&RULES))
    }

    /// Takes one token for `cost`; none left is H3_EXCESSIVE_LOAD.
    pub(crate) fn spend(&mut self, cost: Cost) -> Result<(), ConnError> {
        if self.0.take(cost.bucket()) {
            Ok(())
        } else {
            Err(ConnError::new(ErrorCode::H3_EXCESSIVE_LOAD, cost.reason()))
        }
    }

    pub(crate) fn earn(&mut self, work: Work) {
        self.0.earn(work);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_runs_dry_after_its_burst_and_requests_refill_it_up_to_the_burst() {
        let mut b = Budgets::new();
        for _ in 0..256 {
            b.spend(Cost::Empty).expect("within the burst");
        }
        let e = b.spend(Cost::Empty).expect_err("dry");
        assert_eq!(e.code, ErrorCode::H3_EXCESSIVE_LOAD);
        b.earn(Work::Request);
        for _ in 0..4 {
            b.spend(Cost::Empty).expect("four earned");
        }
        assert!(b.spend(Cost::Empty).is_err());
        for _ in 0..1000 {
            b.earn(Work::Request);
        }
        for _ in 0..256 {
            b.spend(Cost::Empty).expect("refilled");
        }
        assert!(b.spend(Cost::Empty).is_err(), "never above the burst");
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
}
