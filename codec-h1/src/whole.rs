//! One-call responses: a whole response with its body, and the answer to an error,
//! beside the three steps (`send_response`, `send_data`, `send_end`) a streamed body
//! needs.

use std::time::SystemTime;

use http::header::{HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};

use crate::conn::ServerConn;
use crate::error::{Error, SendError};

impl ServerConn {
    /// Writes a whole response whose body is `body`: [`send_response`] with its
    /// length, [`send_data`] and [`send_end`] in one call.
    ///
    /// [`send_response`]: Self::send_response
    /// [`send_data`]: Self::send_data
    /// [`send_end`]: Self::send_end
    pub fn send_full(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        self.send_response(status, headers, Some(body.len() as u64), now, out)?;
        self.send_data(body, out)?;
        self.send_end(None, out)
    }

    /// Answers the error [`poll_event`](Self::poll_event) returned: its
    /// [`status`](Error::status), with the reason phrase as a plain-text body and
    /// `connection: close`. The connection is then closed
    /// ([`is_closed`](Self::is_closed)): write out what is in `out`, and close.
    pub fn send_error(
        &mut self,
        err: Error,
        now: SystemTime,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        let status = err.status();
        let reason = status.canonical_reason().unwrap_or_default();
        self.send_full(status, &headers, reason.as_bytes(), now, out)
    }
}
