//! Limits applied to every request.

/// Limits on what a peer may send; `Default` gives the spec defaults.
#[derive(Clone, Debug)]
pub struct Config {
    /// Longest request line (`method SP target SP version`, CRLF not counted); longer gives 414.
    pub max_request_line: usize,
    /// Longest header (or trailer) field line, CRLF not counted; longer gives 431.
    pub max_header_line: usize,
    /// Largest header block: the field lines after the request line, each counted with its
    /// CRLF, the final empty line not counted; larger gives 431. Trailer sections get the
    /// same cap.
    pub max_header_block: usize,
    /// Most header (or trailer) fields; more gives 431.
    pub max_header_count: usize,
    /// Largest request body, announced (Content-Length) or received (chunked); larger gives 413.
    pub max_content_length: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_request_line: 8192,
            max_header_line: 8192,
            max_header_block: 10240,
            max_header_count: 100,
            max_content_length: 10_000_000,
        }
    }
}
