//! Command-line flags.

use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str =
    "usage: roadrunner-demo [--port N] [--runtime tokio|smol] [--tls [--cert FILE --key FILE]]
        [--max-clients N] [--request-timeout MS] [--keep-alive-timeout MS]
        [--min-bytes-per-second N] [--max-content-length N] [--max-keep-alive-requests N]
        [--hibernate-after MS] [--no-graceful-drain] [--drain-timeout MS]
        [--protocols LIST] [--ws-max-size N]

--protocols: a comma-separated list of http1, http2 and http3, in preference order
(the ALPN order on TLS). Default: http1, or http1,http2 with --tls. On plain TCP,
http2 alone is prior-knowledge h2c; http1,http2 serves HTTP/1.1 and recognises
prior-knowledge HTTP/2 by its connection preface. http3 needs --tls: it is served on
the UDP port with the TCP port's number, and HTTP/1.1 and HTTP/2 responses advertise
it (alt-svc).

/ws is a WebSocket echo (over HTTP/1.1, and over HTTP/2 and HTTP/3 by extended CONNECT);
--ws-max-size sets both its frame and message caps (default 10 MB each).

On SIGTERM or SIGINT the server stops accepting, lets the requests in flight finish
for up to --drain-timeout ms (default 30000, Kubernetes' default grace period), ends
the connections still open then, and exits with status 0. A second signal ends it at
once.";

/// Kubernetes sends SIGKILL 30 s after SIGTERM unless told otherwise
/// (`terminationGracePeriodSeconds`): no point waiting longer by default.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Which adapter serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Tokio,
    Smol,
}

/// The parsed flags.
#[derive(Debug)]
pub struct Args {
    pub port: u16,
    pub runtime: Runtime,
    pub tls: bool,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub max_clients: Option<usize>,
    pub request_timeout: Option<Duration>,
    pub keep_alive_timeout: Option<Duration>,
    pub min_bytes_per_second: Option<u64>,
    pub max_content_length: Option<u64>,
    pub max_keep_alive_requests: Option<u32>,
    pub hibernate_after: Option<Duration>,
    pub no_graceful_drain: bool,
    pub drain_timeout: Duration,
    /// `None`: the default for the transport.
    pub protocols: Option<Vec<Proto>>,
    /// `ws.max_frame_size` and `ws.max_message_size`.
    pub ws_max_size: Option<u64>,
}

/// A protocol named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Http1,
    Http2,
    Http3,
}

impl Args {
    pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut args = Args {
            port: 8080,
            runtime: Runtime::Tokio,
            tls: false,
            cert: None,
            key: None,
            max_clients: None,
            request_timeout: None,
            keep_alive_timeout: None,
            min_bytes_per_second: None,
            max_content_length: None,
            max_keep_alive_requests: None,
            hibernate_after: None,
            no_graceful_drain: false,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            protocols: None,
            ws_max_size: None,
        };
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--port" => args.port = number(&flag, &value()?)?,
                "--runtime" => {
                    args.runtime = match value()?.as_str() {
                        "tokio" => Runtime::Tokio,
                        "smol" => Runtime::Smol,
                        other => return Err(format!("unknown runtime {other:?}")),
                    }
                }
                "--tls" => args.tls = true,
                "--cert" => args.cert = Some(value()?.into()),
                "--key" => args.key = Some(value()?.into()),
                "--max-clients" => args.max_clients = Some(number(&flag, &value()?)?),
                "--request-timeout" => args.request_timeout = Some(millis(&flag, &value()?)?),
                "--keep-alive-timeout" => args.keep_alive_timeout = Some(millis(&flag, &value()?)?),
                "--min-bytes-per-second" => {
                    args.min_bytes_per_second = Some(number(&flag, &value()?)?)
                }
                "--max-content-length" => args.max_content_length = Some(number(&flag, &value()?)?),
                "--max-keep-alive-requests" => {
                    args.max_keep_alive_requests = Some(number(&flag, &value()?)?)
                }
                "--hibernate-after" => args.hibernate_after = Some(millis(&flag, &value()?)?),
                "--no-graceful-drain" => args.no_graceful_drain = true,
                "--drain-timeout" => args.drain_timeout = millis(&flag, &value()?)?,
                "--ws-max-size" => args.ws_max_size = Some(number(&flag, &value()?)?),
                "--protocols" => {
                    let list = value()?
                        .split(',')
                        .map(|p| match p.trim() {
                            "http1" => Ok(Proto::Http1),
                            "http2" => Ok(Proto::Http2),
                            "http3" => Ok(Proto::Http3),
                            other => Err(format!("unknown protocol {other:?}")),
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    args.protocols = Some(list);
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown flag {other:?}")),
            }
        }
        if args.cert.is_some() != args.key.is_some() {
            return Err("--cert and --key go together".into());
        }
        if args.cert.is_some() {
            args.tls = true;
        }
        Ok(args)
    }
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{flag}: bad number {v:?}"))
}

fn millis(flag: &str, v: &str) -> Result<Duration, String> {
    number(flag, v).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        Args::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults() {
        let a = parse(&[]).expect("no flags is fine");
        assert_eq!((a.port, a.runtime, a.tls), (8080, Runtime::Tokio, false));
        assert_eq!(a.drain_timeout, Duration::from_secs(30));
    }

    #[test]
    fn protocols_are_a_list() {
        let a = parse(&["--protocols", "http2,http1"]).expect("valid");
        assert_eq!(a.protocols, Some(vec![Proto::Http2, Proto::Http1]));
        let a = parse(&["--protocols", "http1,http2,http3"]).expect("valid");
        assert_eq!(a.protocols.map(|p| p.len()), Some(3));
        assert!(parse(&["--protocols", "http4"]).is_err());
    }

    #[test]
    fn flags_are_read() {
        let a = parse(&[
            "--port",
            "0",
            "--runtime",
            "smol",
            "--max-clients",
            "5",
            "--request-timeout",
            "250",
            "--cert",
            "c.pem",
            "--key",
            "k.pem",
            "--hibernate-after",
            "1000",
            "--no-graceful-drain",
            "--drain-timeout",
            "2500",
        ])
        .expect("valid flags");
        assert_eq!(a.port, 0);
        assert_eq!(a.runtime, Runtime::Smol);
        assert_eq!(a.max_clients, Some(5));
        assert_eq!(a.request_timeout, Some(Duration::from_millis(250)));
        assert!(a.tls);
        assert_eq!(a.hibernate_after, Some(Duration::from_secs(1)));
        assert!(a.no_graceful_drain);
        assert_eq!(a.drain_timeout, Duration::from_millis(2500));
    }

    #[test]
    fn bad_flags_are_refused() {
        assert!(parse(&["--port", "x"]).is_err());
        assert!(parse(&["--runtime", "async-std"]).is_err());
        assert!(parse(&["--cert", "c.pem"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--drain-timeout", "soon"]).is_err());
    }
}
