//! Flow control (RFC 9113 §5.2, §6.9): the windows the connection keeps for the
//! connection as a whole (stream 0) and for each stream.
//!
//! - [`RecvWindow`] is what we let the peer send. It is reopened only as the
//!   application takes data ([`RecvWindow::release`]), so a peer can never make us
//!   buffer more than the window we advertised.
//! - [`SendWindow`] is what the peer lets us send. It is signed because a smaller
//!   SETTINGS_INITIAL_WINDOW_SIZE can take it below zero (§6.9.2).
//! - [`sendable`] says how much DATA may go out now.
//!
//! Window arithmetic is done in `i64`, so no sequence of peer frames can overflow it;
//! the 2^31−1 limit of §6.9.1 is checked explicitly.

use std::fmt;

use crate::error::{ConnError, ErrorCode, StreamError};

/// The window every stream and the connection start with (§6.9.2), and the only
/// connection window a peer assumes before our first WINDOW_UPDATE on stream 0.
pub const DEFAULT_WINDOW: u32 = 65_535;

/// The largest flow-control window and WINDOW_UPDATE increment, 2^31−1 (§6.9.1).
pub const MAX_WINDOW: u32 = (1 << 31) - 1;

/// A breach of flow control by the peer. Which frame it answers decides the scope, so
/// turn it into the error to send with [`FlowError::for_stream`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowError {
    /// The peer sent more DATA (padding included) than a receive window allowed
    /// (§6.9.1). Always a connection error, even for a stream's window: a peer that
    /// miscounts one window has lost track of the connection's too, and every other
    /// stream's data would be suspect.
    WindowExceeded,
    /// A WINDOW_UPDATE took a send window past 2^31−1 (§6.9.1): a stream error on a
    /// stream, a connection error on stream 0.
    IncrementOverflow,
    /// A WINDOW_UPDATE had an increment of 0 (§6.9): PROTOCOL_ERROR, a stream error on
    /// a stream, a connection error on stream 0.
    ZeroIncrement,
    /// A new SETTINGS_INITIAL_WINDOW_SIZE took a stream's send window past 2^31−1
    /// (§6.9.2). Always a connection error: SETTINGS concern the connection.
    InitialWindowOverflow,
}

impl FlowError {
    /// The wire code.
    pub fn code(self) -> ErrorCode {
        match self {
            FlowError::ZeroIncrement => ErrorCode::PROTOCOL_ERROR,
            _ => ErrorCode::FLOW_CONTROL_ERROR,
        }
    }

    /// What was wrong, for logs.
    pub fn reason(self) -> &'static str {
        match self {
            FlowError::WindowExceeded => "DATA beyond the flow-control window",
            FlowError::IncrementOverflow => "WINDOW_UPDATE took the window past 2^31-1",
            FlowError::ZeroIncrement => "WINDOW_UPDATE with an increment of 0",
            FlowError::InitialWindowOverflow => {
                "SETTINGS_INITIAL_WINDOW_SIZE took a stream window past 2^31-1"
            }
        }
    }

    /// The error to send for this breach, found on the frame for `stream`: `Ok` is a
    /// RST_STREAM that ends only that stream, `Err` ends the connection (stream 0 can
    /// only ever end the connection). Shaped so the connection can write
    /// `let reset = e.for_stream(id)?;`.
    pub fn for_stream(self, stream: u32) -> Result<StreamError, ConnError> {
        let stream_scoped = matches!(
            self,
            FlowError::IncrementOverflow | FlowError::ZeroIncrement
        );
        if stream_scoped && stream != 0 {
            Ok(StreamError {
                stream,
                code: self.code(),
                reason: self.reason(),
            })
        } else {
            Err(ConnError::new(self.code(), self.reason()))
        }
    }
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.reason())
    }
}

impl std::error::Error for FlowError {}

/// A receive window: how much more flow-controlled data the peer may send us on the
/// connection or on one stream, as the peer sees it.
///
/// The bytes we have advertised are in one of three places: still `available` to the
/// peer, consumed but held by the application (`buffered`), or released by the
/// application but not yet announced (`released`). [`take_update`](Self::take_update)
/// moves released bytes back to available once the window has fallen below the
/// threshold, so the sum never exceeds `peak` and the peer can never make us hold more
/// than `peak` unread bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecvWindow {
    peak: u32,
    threshold: u32,
    /// The peer's view. Negative when an acknowledged SETTINGS shrank a stream's
    /// window below what the peer had already sent.
    available: i64,
    buffered: i64,
    released: i64,
}

impl RecvWindow {
    /// A stream's receive window, `initial` being the SETTINGS_INITIAL_WINDOW_SIZE the
    /// peer currently honours (65,535 until it acknowledges ours, see
    /// [`apply_initial_delta`](Self::apply_initial_delta)); `threshold` is
    /// `window_refill_threshold`.
    pub fn new(initial: u32, threshold: u32) -> Self {
        let peak = initial.min(MAX_WINDOW);
        RecvWindow {
            peak,
            threshold,
            available: i64::from(peak),
            buffered: 0,
            released: 0,
        }
    }

    /// The connection's receive window advertising `conn_window`, and the
    /// WINDOW_UPDATE increment for stream 0 to send right after our SETTINGS when
    /// `conn_window` is above the 65,535 every connection starts with (no setting can
    /// change the connection window, §6.9.2).
    ///
    /// A `conn_window` below 65,535 cannot be advertised; the peer may still send the
    /// first 65,535 bytes, and the window settles at `conn_window` as it is used.
    pub fn connection(conn_window: u32, threshold: u32) -> (Self, Option<u32>) {
        let mut window = RecvWindow::new(conn_window, threshold);
        window.available = i64::from(DEFAULT_WINDOW);
        let increment = window.peak.checked_sub(DEFAULT_WINDOW).filter(|&n| n > 0);
        if let Some(n) = increment {
            window.available += i64::from(n);
        }
        (window, increment)
    }

    /// The window we aim to keep open for the peer.
    pub fn peak(&self) -> u32 {
        self.peak
    }

    /// Bytes consumed and not yet released: what a stream that is dropped still holds
    /// of the connection's window.
    pub fn held(&self) -> u32 {
        u32::try_from(self.buffered).unwrap_or(u32::MAX)
    }

    /// What the peer may still send, as it sees it (negative after a shrink).
    pub fn available(&self) -> i64 {
        self.available
    }

    /// Accounts for a DATA frame of `len` bytes: its whole payload, the Pad Length
    /// octet and padding included (§6.9.1), even on a stream being ignored (§6.9:
    /// the peer counted it). Padding never reaches the application, so release it
    /// at once.
    pub fn consume(&mut self, len: u32) -> Result<(), FlowError> {
        // An empty DATA frame (END_STREAM alone) is allowed even on a closed window.
        if len > 0 && i64::from(len) > self.available {
            return Err(FlowError::WindowExceeded);
        }
        self.available -= i64::from(len);
        self.buffered += i64::from(len);
        Ok(())
    }

    /// Records that `len` consumed bytes have left our buffers (taken by the
    /// application, or dropped), so they may be offered to the peer again. More than
    /// is buffered is ignored.
    pub fn release(&mut self, len: u32) {
        let len = i64::from(len).min(self.buffered);
        self.buffered -= len;
        // Bytes received beyond `peak` (a shrink, or the first 65,535 on a connection
        // set smaller) are not offered again: that is how the window settles at `peak`.
        let room = i64::from(self.peak) - self.available - self.buffered;
        self.released = (self.released + len).min(room).max(0);
    }

    /// The WINDOW_UPDATE increment to send now, if any: everything released so far,
    /// once the peer's window has fallen below the threshold (or is used up, so a
    /// threshold of 0 cannot stall the peer). Waiting for the threshold batches
    /// updates; waiting for releases keeps buffering bounded.
    /// The caller must send the increment: the window counts it as announced.
    pub fn take_update(&mut self) -> Option<u32> {
        let low = self.available < i64::from(self.threshold) || self.available <= 0;
        if self.released == 0 || !low {
            return None;
        }
        // Over 2^31−1 only after a deep shrink; the rest goes in the next update.
        let increment = u32::try_from(self.released.min(i64::from(MAX_WINDOW))).ok()?;
        self.available += i64::from(increment);
        self.released -= i64::from(increment);
        Some(increment)
    }

    /// Applies a change of our SETTINGS_INITIAL_WINDOW_SIZE from `old` to `new` once
    /// the peer has acknowledged it (from then on it counts stream windows with the
    /// new value, §6.9.2). Only for stream windows. The window may go negative; the
    /// peer then waits for updates, which come as the application releases data.
    pub fn apply_initial_delta(&mut self, old: u32, new: u32) {
        let new = new.min(MAX_WINDOW);
        self.available += i64::from(new) - i64::from(old.min(MAX_WINDOW));
        self.peak = new;
        // Re-apply the cap: a shrink may leave fewer bytes to offer back.
        self.release(0);
    }
}

/// A send window: how much more flow-controlled data the peer lets us send on the
/// connection or on one stream. Signed, since a lower SETTINGS_INITIAL_WINDOW_SIZE
/// can take it below zero (§6.9.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendWindow {
    window: i64,
}

impl SendWindow {
    /// A window of `initial` bytes: [`DEFAULT_WINDOW`] for the connection, the peer's
    /// SETTINGS_INITIAL_WINDOW_SIZE for a stream.
    pub fn new(initial: u32) -> Self {
        SendWindow {
            window: i64::from(initial),
        }
    }

    /// The window, which may be negative.
    pub fn window(&self) -> i64 {
        self.window
    }

    /// How many bytes may be sent now (0 while the window is negative).
    pub fn available(&self) -> u32 {
        u32::try_from(self.window.max(0)).unwrap_or(MAX_WINDOW)
    }

    /// Accounts for `n` bytes of DATA sent (padding included). `n` should not exceed
    /// [`available`](Self::available), which [`sendable`] ensures.
    pub fn spend(&mut self, n: u32) {
        self.window -= i64::from(n);
    }

    /// Applies a WINDOW_UPDATE increment received from the peer. On error the window
    /// is unchanged.
    pub fn apply_increment(&mut self, n: u32) -> Result<(), FlowError> {
        if n == 0 {
            return Err(FlowError::ZeroIncrement);
        }
        let window = self.window + i64::from(n);
        if window > i64::from(MAX_WINDOW) {
            return Err(FlowError::IncrementOverflow);
        }
        self.window = window;
        Ok(())
    }

    /// Applies a change of the peer's SETTINGS_INITIAL_WINDOW_SIZE from `old` to `new`
    /// to a stream's window (every open stream's, never the connection's, §6.9.2). The
    /// window may go negative. On error the window is unchanged.
    pub fn apply_initial_delta(&mut self, old: u32, new: u32) -> Result<(), FlowError> {
        let window = self.window + i64::from(new) - i64::from(old);
        if window > i64::from(MAX_WINDOW) {
            return Err(FlowError::InitialWindowOverflow);
        }
        self.window = window;
        Ok(())
    }
}

/// How many of `len` pending bytes may go out in one DATA frame now: bounded by the
/// connection's and the stream's send windows and the peer's SETTINGS_MAX_FRAME_SIZE.
/// An empty DATA frame (`len` 0, with END_STREAM) needs no window and is always
/// allowed (§6.9.1).
pub fn sendable(len: usize, conn: &SendWindow, stream: &SendWindow, max_frame_size: u32) -> usize {
    let limit = conn.available().min(stream.available()).min(max_frame_size);
    len.min(usize::try_from(limit).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn flow_errors_have_the_rfc_codes_and_scopes() {
        let e = FlowError::WindowExceeded.for_stream(3).unwrap_err();
        assert_eq!(e.code, ErrorCode::FLOW_CONTROL_ERROR);
        let e = FlowError::InitialWindowOverflow.for_stream(3).unwrap_err();
        assert_eq!(e.code, ErrorCode::FLOW_CONTROL_ERROR);

        let e = FlowError::IncrementOverflow.for_stream(3).unwrap();
        assert_eq!((e.stream, e.code), (3, ErrorCode::FLOW_CONTROL_ERROR));
        let e = FlowError::IncrementOverflow.for_stream(0).unwrap_err();
        assert_eq!(e.code, ErrorCode::FLOW_CONTROL_ERROR);

        let e = FlowError::ZeroIncrement.for_stream(5).unwrap();
        assert_eq!((e.stream, e.code), (5, ErrorCode::PROTOCOL_ERROR));
        let e = FlowError::ZeroIncrement.for_stream(0).unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
    }

    #[test]
    fn a_peer_may_fill_the_window_exactly_but_not_beyond() {
        let mut w = RecvWindow::new(100, 50);
        assert_eq!(w.consume(60), Ok(()));
        assert_eq!(w.consume(41), Err(FlowError::WindowExceeded));
        assert_eq!(w.available(), 40, "a refused frame changes nothing");
        assert_eq!(w.consume(40), Ok(()));
        assert_eq!(w.consume(1), Err(FlowError::WindowExceeded));
        // An empty DATA frame (END_STREAM only) fits a closed window.
        assert_eq!(w.consume(0), Ok(()));
    }

    #[test]
    fn padding_counts_against_the_window_and_is_released_at_once() {
        // 10 bytes of data, the Pad Length octet and 20 of padding: 31 in all.
        let mut w = RecvWindow::new(40, 35);
        assert_eq!(w.consume(31), Ok(()));
        assert_eq!(w.consume(10), Err(FlowError::WindowExceeded));
        w.release(21);
        assert_eq!(w.take_update(), Some(21));
        assert_eq!(w.available(), 30);
        // The application's 10 bytes come back only when it takes them.
        assert_eq!(w.take_update(), None);
        w.release(10);
        assert_eq!(w.take_update(), Some(10));
        assert_eq!(w.available(), 40);
    }

    #[test]
    fn the_window_reopens_only_as_the_application_takes_data() {
        let mut w = RecvWindow::new(65_535, 32_768);
        w.consume(65_535).unwrap();
        assert_eq!(w.take_update(), None, "nothing taken yet: no update");
        w.release(1000);
        assert_eq!(w.take_update(), Some(1000));
        assert_eq!(w.available(), 1000);
        assert_eq!(w.take_update(), None);
    }

    #[test]
    fn updates_wait_for_the_threshold_then_refill_to_the_peak() {
        let mut w = RecvWindow::new(65_535, 32_768);
        w.consume(30_000).unwrap();
        w.release(30_000);
        assert_eq!(w.take_update(), None, "35,535 left is above the threshold");
        w.consume(5_000).unwrap();
        w.release(5_000);
        assert_eq!(w.take_update(), Some(35_000));
        assert_eq!(w.available(), 65_535);
    }

    #[test]
    fn a_zero_threshold_still_reopens_a_used_up_window() {
        let mut w = RecvWindow::new(100, 0);
        w.consume(60).unwrap();
        w.release(60);
        assert_eq!(w.take_update(), None, "40 left: nothing due yet");
        w.consume(40).unwrap();
        w.release(40);
        assert_eq!(w.take_update(), Some(100));
    }

    #[test]
    fn releasing_more_than_was_received_is_ignored() {
        let mut w = RecvWindow::new(100, 100);
        w.consume(10).unwrap();
        w.release(1_000);
        assert_eq!(w.take_update(), Some(10));
        assert_eq!(w.available(), 100);
        w.release(5);
        assert_eq!(w.take_update(), None);
    }

    #[test]
    fn a_large_connection_window_is_opened_right_after_settings() {
        let (w, update) = RecvWindow::connection(1 << 20, 32_768);
        assert_eq!(update, Some((1 << 20) - 65_535));
        assert_eq!(w.available(), 1 << 20);
        assert_eq!(w.peak(), 1 << 20);

        let (w, update) = RecvWindow::connection(65_535, 32_768);
        assert_eq!(update, None);
        assert_eq!(w.available(), 65_535);

        let (w, update) = RecvWindow::connection(MAX_WINDOW, 32_768);
        assert_eq!(update, Some(MAX_WINDOW - 65_535));
        assert_eq!(w.available(), i64::from(MAX_WINDOW));
    }

    #[test]
    fn a_small_connection_window_settles_at_its_peak() {
        let (mut w, update) = RecvWindow::connection(10_000, 5_000);
        assert_eq!(update, None);
        // The peer may use the 65,535 every connection starts with...
        w.consume(65_535).unwrap();
        w.release(65_535);
        // ...but gets back only up to the peak.
        assert_eq!(w.take_update(), Some(10_000));
        assert_eq!(w.available(), 10_000);
    }

    #[test]
    fn our_smaller_initial_window_takes_effect_when_acknowledged() {
        // The stream opened before the peer acknowledged SETTINGS_INITIAL_WINDOW_SIZE
        // 16,384, so it may send 65,535.
        let mut w = RecvWindow::new(65_535, 8_192);
        w.consume(60_000).unwrap();
        w.apply_initial_delta(65_535, 16_384);
        assert_eq!(w.peak(), 16_384);
        assert_eq!(w.available(), 5_535 - 49_151);
        assert_eq!(w.consume(1), Err(FlowError::WindowExceeded));
        w.release(60_000);
        assert_eq!(w.take_update(), Some(60_000));
        assert_eq!(w.available(), 16_384);
    }

    #[test]
    fn send_window_spends_and_grows() {
        let mut w = SendWindow::new(DEFAULT_WINDOW);
        w.spend(65_000);
        assert_eq!(w.available(), 535);
        assert_eq!(w.apply_increment(1_000), Ok(()));
        assert_eq!(w.available(), 1_535);
        assert_eq!(w.apply_increment(0), Err(FlowError::ZeroIncrement));
        assert_eq!(w.available(), 1_535);
    }

    #[test]
    fn an_increment_may_reach_but_not_pass_the_maximum() {
        let mut w = SendWindow::new(DEFAULT_WINDOW);
        assert_eq!(w.apply_increment(MAX_WINDOW - 65_535), Ok(()));
        assert_eq!(w.available(), MAX_WINDOW);
        assert_eq!(w.apply_increment(1), Err(FlowError::IncrementOverflow));
        assert_eq!(
            w.available(),
            MAX_WINDOW,
            "a refused update changes nothing"
        );

        let mut w = SendWindow::new(0);
        assert_eq!(w.apply_increment(MAX_WINDOW), Ok(()));
        assert_eq!(
            w.apply_increment(MAX_WINDOW),
            Err(FlowError::IncrementOverflow)
        );
        assert_eq!(
            w.apply_increment(u32::MAX),
            Err(FlowError::IncrementOverflow)
        );
    }

    #[test]
    fn a_settings_change_may_not_push_a_window_past_the_maximum() {
        let mut w = SendWindow::new(65_535);
        w.apply_increment(MAX_WINDOW - 65_535 - 10).unwrap();
        assert_eq!(w.apply_initial_delta(65_535, 65_545), Ok(()));
        assert_eq!(w.available(), MAX_WINDOW);
        assert_eq!(
            w.apply_initial_delta(65_545, 65_546),
            Err(FlowError::InitialWindowOverflow)
        );
        assert_eq!(w.available(), MAX_WINDOW);
        assert!(FlowError::InitialWindowOverflow.for_stream(1).is_err());
    }

    /// The example of RFC 9113 §6.9.2: the peer lowers SETTINGS_INITIAL_WINDOW_SIZE
    /// below what we have already sent, the window goes negative, and we may send
    /// again only once WINDOW_UPDATEs bring it back above zero.
    #[test]
    fn a_lowered_initial_window_goes_negative_until_updates_lift_it() {
        let conn = SendWindow::new(1 << 20);
        let mut stream = SendWindow::new(65_535);
        stream.spend(60_000);
        assert_eq!(stream.apply_initial_delta(65_535, 16_384), Ok(()));
        assert_eq!(stream.window(), 16_384 - 60_000);
        assert_eq!(stream.available(), 0);
        assert_eq!(sendable(1_000, &conn, &stream, 16_384), 0);

        stream.apply_increment(40_000).unwrap();
        assert_eq!(stream.window(), -3_616);
        assert_eq!(sendable(1_000, &conn, &stream, 16_384), 0);

        stream.apply_increment(4_616).unwrap();
        assert_eq!(stream.window(), 1_000);
        assert_eq!(sendable(5_000, &conn, &stream, 16_384), 1_000);

        // Raising the setting again applies the same delta upwards.
        assert_eq!(stream.apply_initial_delta(16_384, 65_535), Ok(()));
        assert_eq!(stream.window(), 1_000 + 49_151);
    }

    #[test]
    fn sendable_is_bounded_by_both_windows_and_the_frame_size() {
        let conn = SendWindow::new(10_000);
        let stream = SendWindow::new(20_000);
        assert_eq!(sendable(50_000, &conn, &stream, 16_384), 10_000);
        assert_eq!(sendable(50_000, &stream, &conn, 16_384), 10_000);
        assert_eq!(sendable(50_000, &conn, &stream, 4_096), 4_096);
        assert_eq!(sendable(500, &conn, &stream, 4_096), 500);
        assert_eq!(sendable(0, &SendWindow::new(0), &stream, 4_096), 0);
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// The peer sends this share (in 1/256ths) of what its window allows, or
        /// overshoots it when the share exceeds 256.
        Send(u16),
        /// The application takes this share of what is buffered.
        Release(u16),
        /// The connection sends any update due.
        Update,
        /// Our SETTINGS_INITIAL_WINDOW_SIZE changes to this, acknowledged.
        Settings(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u16..300).prop_map(Op::Send),
            4 => (0u16..=256).prop_map(Op::Release),
            4 => Just(Op::Update),
            1 => (0u32..200_000).prop_map(Op::Settings),
        ]
    }

    proptest! {
        /// Models the peer: it tracks the window we advertised exactly as the RFC
        /// has it, and may try to overshoot it.
        #[test]
        fn the_peers_view_and_ours_agree_and_never_pass_the_peak(
            initial in 0u32..200_000,
            threshold in 0u32..200_000,
            ops in proptest::collection::vec(op(), 0..80),
        ) {
            let mut w = RecvWindow::new(initial, threshold);
            let mut peer_view = i64::from(initial);
            let mut held = 0i64;
            for op in ops {
                match op {
                    Op::Send(share) => {
                        let room = peer_view.max(0);
                        let len = u32::try_from(room * i64::from(share) / 256).unwrap();
                        let result = w.consume(len);
                        if i64::from(len) <= room {
                            prop_assert_eq!(result, Ok(()));
                            peer_view -= i64::from(len);
                            held += i64::from(len);
                        } else {
                            prop_assert_eq!(result, Err(FlowError::WindowExceeded));
                        }
                    }
                    Op::Release(share) => {
                        let len = held * i64::from(share) / 256;
                        w.release(u32::try_from(len).unwrap());
                        held -= len;
                    }
                    Op::Update => {
                        if let Some(n) = w.take_update() {
                            prop_assert!(n > 0 && n <= MAX_WINDOW);
                            peer_view += i64::from(n);
                        }
                    }
                    Op::Settings(new) => {
                        let old = w.peak();
                        w.apply_initial_delta(old, new);
                        peer_view += i64::from(new) - i64::from(old);
                    }
                }
                prop_assert_eq!(w.available(), peer_view);
                // What the peer may send plus what we hold never passes the peak: a
                // settings change moves both sides by the same delta.
                prop_assert!(peer_view + held <= i64::from(w.peak()));
            }
            // Once the application has taken everything, the window refills fully.
            w.release(u32::try_from(held).unwrap());
            let expected = i64::from(w.peak()) - w.available();
            let low = w.available() < i64::from(threshold) || w.available() <= 0;
            let due = low && expected > 0;
            prop_assert_eq!(w.take_update().map(i64::from), due.then_some(expected));
        }

        #[test]
        fn a_send_window_never_passes_the_maximum(
            initial in 0u32..=MAX_WINDOW,
            steps in proptest::collection::vec((any::<bool>(), 0u32..=MAX_WINDOW), 0..40),
        ) {
            let mut w = SendWindow::new(initial);
            let mut setting = initial;
            for (is_settings, n) in steps {
                let before = w.window();
                let result = if is_settings {
                    let r = w.apply_initial_delta(setting, n);
                    if r.is_ok() {
                        setting = n;
                    }
                    r
                } else {
                    w.apply_increment(n)
                };
                if result.is_err() {
                    prop_assert_eq!(w.window(), before);
                }
                prop_assert!(w.window() <= i64::from(MAX_WINDOW));
                prop_assert!(w.available() <= MAX_WINDOW);
                w.spend(w.available() / 2);
            }
        }
    }
}
