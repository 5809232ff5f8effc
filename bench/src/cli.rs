//! Command-line parsing (by hand).

use std::path::PathBuf;

use crate::h3_load;
use crate::hyper_server::Protocol;
use crate::ws_load::LoadArgs;
use crate::ws_server::WsImpl;

/// `--help` text.
pub const USAGE: &str = "\
roadrunner-bench: benchmark roadrunner against hyper with wrk and h2load,
against tokio-tungstenite and fastwebsockets with its own WebSocket load client,
and against h3 (on quinn) with its own HTTP/3 load client

USAGE:
    roadrunner-bench [OPTIONS]
    roadrunner-bench hyper-server --port N [--pipeline-flush | --http2]
    roadrunner-bench floor-server --port N
    roadrunner-bench ws-server --impl tungstenite|fastwebsockets|floor --port N
    roadrunner-bench ws-load --connections N --size BYTES --duration SECS ws://HOST:PORT/PATH
    roadrunner-bench h3-server --port N
    roadrunner-bench h3-load --connections N --streams M --duration SECS https://IP:PORT/PATH

OPTIONS:
    --duration SECS     measured seconds per wrk, ws-load and h3-load run (default 10)
    --warmup SECS       unmeasured warm-up seconds before each wrk, ws-load and
                        h3-load run
                        (default 2); 0 also skips the h2load warm-up runs
    --quick             3 s runs, 1 s warm-up, 2000 idle connections for `memory`,
                        a fifth of the h2load requests
    --connections N     wrk connections (default 50)
    --servers LIST      comma-separated subset of
                        hyper,hyper-flush,floor,hyper-h2,tungstenite,
                        fastwebsockets,ws-floor,h3-quinn,roadrunner-tokio,
                        roadrunner-smol
                        (default: all)
    --scenarios LIST    comma-separated subset of keep-alive,pipelined,short,
                        memory,h2,h2-64k,ws,ws-16k,h3,h3-64k,h1-speed (default:
                        all but h1-speed, which runs keep-alive and pipelined
                        rows again, the in-process figures of
                        roadrunner-bench-inproc, and one table against the
                        HTTP/1.1 speed targets)
    --demo PATH         roadrunner-demo binary (default: next to this binary, then
                        $CARGO_TARGET_DIR/release/roadrunner-demo)
    --server-cpu N      core the server is pinned to (default 0)
    --client-cpu N      core wrk, h2load, ws-load and h3-load are pinned to (default 1)
    --markdown FILE     also write the tables, command lines, date, nproc and the
                        wrk and h2load versions to FILE
    -h, --help          this help

The `hyper-server` mode runs a baseline hyper server alone (`--http2`: h2c);
`floor-server` the canned-reply floor (counts blank lines, parses nothing);
`ws-server` a baseline WebSocket echo server (`floor`: one epoll loop, no
runtime, the least a server can do per message); `ws-load` the WebSocket load client
(closed loop: one message in flight per connection, each echo checked);
`h3-server` the HTTP/3 baseline (h3 + h3-quinn); `h3-load` the HTTP/3 load client
(plain quinn, closed loop: M request streams in flight per connection).
";

/// A server family under test; each scenario runs one or more configurations
/// (see [`crate::variant`]) of every selected family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// hyper with default `http1::Builder` settings (plus keep-alive).
    Hyper,
    /// hyper with `pipeline_flush(true)`.
    HyperFlush,
    /// The canned-reply floor on tokio (keep-alive and pipelined only).
    Floor,
    /// hyper with default `http2::Builder` settings (prior-knowledge h2c).
    HyperH2,
    /// The tokio-tungstenite echo server (ws scenarios).
    Tungstenite,
    /// The fastwebsockets echo server (ws scenarios).
    Fastwebsockets,
    /// The WebSocket echo floor (ws scenarios).
    WsFloor,
    /// h3 on h3-quinn (h3 scenarios).
    H3Quinn,
    RoadrunnerTokio,
    RoadrunnerSmol,
}

impl Server {
    pub const ALL: [Server; 10] = [
        Server::Hyper,
        Server::HyperFlush,
        Server::Floor,
        Server::HyperH2,
        Server::Tungstenite,
        Server::Fastwebsockets,
        Server::WsFloor,
        Server::H3Quinn,
        Server::RoadrunnerTokio,
        Server::RoadrunnerSmol,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Server::Hyper => "hyper",
            Server::HyperFlush => "hyper-flush",
            Server::Floor => "floor",
            Server::HyperH2 => "hyper-h2",
            Server::Tungstenite => "tungstenite",
            Server::Fastwebsockets => "fastwebsockets",
            Server::WsFloor => "ws-floor",
            Server::H3Quinn => "h3-quinn",
            Server::RoadrunnerTokio => "roadrunner-tokio",
            Server::RoadrunnerSmol => "roadrunner-smol",
        }
    }
}

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// One request in flight per keep-alive connection.
    KeepAlive,
    /// 16 pipelined requests per write (`bench/wrk/pipeline.lua`).
    Pipelined,
    /// One request per connection (`Connection: close`).
    Short,
    /// Resident memory per idle keep-alive connection.
    Memory,
    /// h2load, many concurrent HTTP/2 streams: `GET /`.
    H2,
    /// The same against a 64 KiB streamed body (`GET /big?bytes=65536`).
    H2Big,
    /// WebSocket echo: 100 connections, 20-byte messages.
    Ws,
    /// WebSocket echo: 20 connections, 16 KiB messages.
    Ws16k,
    /// HTTP/3, many concurrent streams: `GET /`.
    H3,
    /// The same against a 64 KiB streamed body (`GET /big?bytes=65536`).
    H3Big,
    /// The HTTP/1.1 speed targets side by side: keep-alive and pipelined rows,
    /// the in-process figures, one summary table (see [`crate::h1_speed`]).
    H1Speed,
}

impl Scenario {
    pub const ALL: [Scenario; 11] = [
        Scenario::KeepAlive,
        Scenario::Pipelined,
        Scenario::Short,
        Scenario::Memory,
        Scenario::H2,
        Scenario::H2Big,
        Scenario::Ws,
        Scenario::Ws16k,
        Scenario::H3,
        Scenario::H3Big,
        Scenario::H1Speed,
    ];

    /// What runs without `--scenarios`: all but `h1-speed`, whose wrk rows would
    /// repeat those of `keep-alive` and `pipelined`.
    pub fn defaults() -> Vec<Scenario> {
        Self::ALL
            .into_iter()
            .filter(|&s| s != Scenario::H1Speed)
            .collect()
    }

    pub fn name(self) -> &'static str {
        match self {
            Scenario::KeepAlive => "keep-alive",
            Scenario::Pipelined => "pipelined",
            Scenario::Short => "short",
            Scenario::Memory => "memory",
            Scenario::H2 => "h2",
            Scenario::H2Big => "h2-64k",
            Scenario::Ws => "ws",
            Scenario::Ws16k => "ws-16k",
            Scenario::H3 => "h3",
            Scenario::H3Big => "h3-64k",
            Scenario::H1Speed => "h1-speed",
        }
    }

    /// Whether h2load (rather than wrk or the harness) is the client.
    pub fn is_h2(self) -> bool {
        matches!(self, Scenario::H2 | Scenario::H2Big)
    }

    /// Whether this is a WebSocket echo scenario (the client is `ws-load`).
    pub fn is_ws(self) -> bool {
        matches!(self, Scenario::Ws | Scenario::Ws16k)
    }

    /// Whether this is an HTTP/3 scenario (the client is `h3-load`).
    pub fn is_h3(self) -> bool {
        matches!(self, Scenario::H3 | Scenario::H3Big)
    }

    /// Whether wrk is the client.
    pub fn uses_wrk(self) -> bool {
        !self.is_h2() && !self.is_ws() && !self.is_h3() && self != Scenario::Memory
    }
}

/// Benchmark options from the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub duration_secs: u64,
    pub warmup_secs: u64,
    pub connections: u32,
    /// Idle connections opened in the `memory` scenario.
    pub idle_connections: usize,
    pub servers: Vec<Server>,
    pub scenarios: Vec<Scenario>,
    pub demo: Option<PathBuf>,
    pub server_cpu: usize,
    pub client_cpu: usize,
    pub markdown: Option<PathBuf>,
    /// `--quick`, which the h2 scenarios apply to their request counts.
    pub quick: bool,
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Mode {
    Help,
    HyperServer { port: u16, protocol: Protocol },
    FloorServer { port: u16 },
    WsServer { port: u16, imp: WsImpl },
    WsLoad(LoadArgs),
    H3Server { port: u16 },
    H3Load(h3_load::LoadArgs),
    Bench(Options),
}

/// Parses the command line (without the program name).
pub fn parse_args(args: &[String]) -> Result<Mode, String> {
    if args.first().map(String::as_str) == Some("hyper-server") {
        let (mut port, mut pipeline_flush, mut http2) = (0, false, false);
        let mut it = args[1..].iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--port" => port = parse_value(arg, it.next())?,
                "--pipeline-flush" => pipeline_flush = true,
                "--http2" => http2 = true,
                "-h" | "--help" => return Ok(Mode::Help),
                other => return Err(format!("unknown hyper-server argument `{other}`")),
            }
        }
        let protocol = match (http2, pipeline_flush) {
            (false, _) => Protocol::Http1 { pipeline_flush },
            (true, false) => Protocol::Http2,
            (true, true) => return Err("--pipeline-flush is an HTTP/1.1 setting".into()),
        };
        return Ok(Mode::HyperServer { port, protocol });
    }
    if args.first().map(String::as_str) == Some("floor-server") {
        let port = port_only(&args[1..], "floor-server")?;
        return Ok(port.map_or(Mode::Help, |port| Mode::FloorServer { port }));
    }
    if args.first().map(String::as_str) == Some("ws-server") {
        let (mut port, mut imp) = (0, None);
        let mut it = args[1..].iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--port" => port = parse_value(arg, it.next())?,
                "--impl" => {
                    let v = value(arg, it.next())?;
                    imp = Some(
                        WsImpl::ALL
                            .into_iter()
                            .find(|i| i.name() == v)
                            .ok_or_else(|| format!("unknown --impl `{v}`"))?,
                    );
                }
                "-h" | "--help" => return Ok(Mode::Help),
                other => return Err(format!("unknown ws-server argument `{other}`")),
            }
        }
        let imp = imp.ok_or("ws-server needs --impl tungstenite|fastwebsockets|floor")?;
        return Ok(Mode::WsServer { port, imp });
    }
    if args.first().map(String::as_str) == Some("ws-load") {
        let mut load = LoadArgs {
            url: String::new(),
            connections: 100,
            size: 20,
            secs: 10,
        };
        let mut it = args[1..].iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--connections" => load.connections = parse_value(arg, it.next())?,
                "--size" => load.size = parse_value(arg, it.next())?,
                "--duration" => load.secs = parse_value(arg, it.next())?,
                "-h" | "--help" => return Ok(Mode::Help),
                url if !url.starts_with('-') && load.url.is_empty() => load.url = url.into(),
                other => return Err(format!("unknown ws-load argument `{other}`")),
            }
        }
        if load.url.is_empty() {
            return Err("ws-load needs a ws://HOST:PORT/PATH URL".into());
        }
        if load.connections == 0 || load.secs == 0 {
            return Err("ws-load needs at least one connection and one second".into());
        }
        return Ok(Mode::WsLoad(load));
    }
    if args.first().map(String::as_str) == Some("h3-server") {
        let port = port_only(&args[1..], "h3-server")?;
        return Ok(port.map_or(Mode::Help, |port| Mode::H3Server { port }));
    }
    if args.first().map(String::as_str) == Some("h3-load") {
        let mut load = h3_load::LoadArgs {
            url: String::new(),
            connections: h3_load::CONNECTIONS,
            streams: h3_load::STREAMS,
            secs: 10,
        };
        let mut it = args[1..].iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--connections" => load.connections = parse_value(arg, it.next())?,
                "--streams" => load.streams = parse_value(arg, it.next())?,
                "--duration" => load.secs = parse_value(arg, it.next())?,
                "-h" | "--help" => return Ok(Mode::Help),
                url if !url.starts_with('-') && load.url.is_empty() => load.url = url.into(),
                other => return Err(format!("unknown h3-load argument `{other}`")),
            }
        }
        if load.url.is_empty() {
            return Err("h3-load needs an https://IP:PORT/PATH URL".into());
        }
        if load.connections == 0 || load.streams == 0 || load.secs == 0 {
            return Err("h3-load needs at least one connection, stream and second".into());
        }
        return Ok(Mode::H3Load(load));
    }

    let mut opts = Options {
        duration_secs: 10,
        warmup_secs: 2,
        connections: 50,
        idle_connections: 10_000,
        servers: Server::ALL.to_vec(),
        scenarios: Scenario::defaults(),
        demo: None,
        server_cpu: 0,
        client_cpu: 1,
        markdown: None,
        quick: false,
    };
    let (mut duration, mut warmup) = (None, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Mode::Help),
            "--quick" => opts.quick = true,
            "--duration" => duration = Some(parse_value(arg, it.next())?),
            "--warmup" => warmup = Some(parse_value(arg, it.next())?),
            "--connections" => opts.connections = parse_value(arg, it.next())?,
            "--server-cpu" => opts.server_cpu = parse_value(arg, it.next())?,
            "--client-cpu" => opts.client_cpu = parse_value(arg, it.next())?,
            "--servers" => {
                opts.servers = parse_list(arg, it.next(), &Server::ALL, |s| s.name())?;
            }
            "--scenarios" => {
                opts.scenarios = parse_list(arg, it.next(), &Scenario::ALL, |s| s.name())?;
            }
            "--demo" => opts.demo = Some(PathBuf::from(value(arg, it.next())?)),
            "--markdown" => opts.markdown = Some(PathBuf::from(value(arg, it.next())?)),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if opts.quick {
        opts.duration_secs = 3;
        opts.warmup_secs = 1;
        opts.idle_connections = 2_000;
    }
    opts.duration_secs = duration.unwrap_or(opts.duration_secs);
    opts.warmup_secs = warmup.unwrap_or(opts.warmup_secs);
    if opts.duration_secs == 0 {
        return Err("--duration must be at least 1".into());
    }
    if opts.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    if opts.server_cpu == opts.client_cpu {
        return Err("--server-cpu and --client-cpu must differ".into());
    }
    Ok(Mode::Bench(opts))
}

fn value<'a>(flag: &str, v: Option<&'a String>) -> Result<&'a str, String> {
    v.map(String::as_str)
        .ok_or_else(|| format!("{flag} needs a value"))
}

/// The `--port N` of a server subcommand that takes nothing else (0 when not
/// given); `None` for `--help`.
fn port_only(args: &[String], what: &str) -> Result<Option<u16>, String> {
    let mut port = 0;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--port" => port = parse_value(arg, it.next())?,
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown {what} argument `{other}`")),
        }
    }
    Ok(Some(port))
}

fn parse_value<T: std::str::FromStr>(flag: &str, v: Option<&String>) -> Result<T, String> {
    let v = value(flag, v)?;
    v.parse()
        .map_err(|_| format!("invalid value `{v}` for {flag}"))
}

/// Parses a comma-separated list of names from `all`, keeping `all`'s order.
fn parse_list<T: Copy + PartialEq>(
    flag: &str,
    v: Option<&String>,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<Vec<T>, String> {
    let mut wanted = Vec::new();
    for item in value(flag, v)?.split(',').map(str::trim) {
        let found = all.iter().copied().find(|&x| name(x) == item);
        match found {
            Some(x) => wanted.push(x),
            None => {
                let names: Vec<_> = all.iter().map(|&x| name(x)).collect();
                return Err(format!(
                    "unknown {flag} entry `{item}` (expected {})",
                    names.join(", ")
                ));
            }
        }
    }
    Ok(all.iter().copied().filter(|x| wanted.contains(x)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults() {
        let Mode::Bench(o) = parse_args(&[]).unwrap() else {
            panic!()
        };
        assert_eq!((o.duration_secs, o.warmup_secs, o.connections), (10, 2, 50));
        assert_eq!(o.idle_connections, 10_000);
        assert_eq!(o.servers, Server::ALL);
        assert_eq!(o.scenarios, &Scenario::ALL[..10]);
        let Mode::Bench(o) = parse_args(&args("--scenarios h1-speed,keep-alive")).unwrap() else {
            panic!()
        };
        assert_eq!(o.scenarios, [Scenario::KeepAlive, Scenario::H1Speed]);
    }

    #[test]
    fn quick_and_lists() {
        let Mode::Bench(o) = parse_args(&args(
            "--quick --servers roadrunner-smol,hyper --scenarios memory,short",
        ))
        .unwrap() else {
            panic!()
        };
        assert_eq!((o.duration_secs, o.idle_connections), (3, 2_000));
        assert_eq!(o.servers, [Server::Hyper, Server::RoadrunnerSmol]);
        assert_eq!(o.scenarios, [Scenario::Short, Scenario::Memory]);
        assert!(parse_args(&args("--servers nginx")).is_err());
        assert!(parse_args(&args("--duration")).is_err());
    }

    #[test]
    fn hyper_server_mode() {
        assert_eq!(
            parse_args(&args("hyper-server --port 8080 --pipeline-flush")),
            Ok(Mode::HyperServer {
                port: 8080,
                protocol: Protocol::Http1 {
                    pipeline_flush: true
                }
            })
        );
        assert_eq!(
            parse_args(&args("hyper-server --http2")),
            Ok(Mode::HyperServer {
                port: 0,
                protocol: Protocol::Http2
            })
        );
        assert!(parse_args(&args("hyper-server --http2 --pipeline-flush")).is_err());
        assert_eq!(
            parse_args(&args("floor-server --port 8080")),
            Ok(Mode::FloorServer { port: 8080 })
        );
        assert!(parse_args(&args("floor-server --pipeline-flush")).is_err());
    }

    #[test]
    fn ws_modes() {
        assert_eq!(
            parse_args(&args("ws-server --impl fastwebsockets --port 9")),
            Ok(Mode::WsServer {
                port: 9,
                imp: WsImpl::Fastwebsockets
            })
        );
        assert!(parse_args(&args("ws-server --port 9")).is_err());
        assert!(parse_args(&args("ws-server --impl nginx")).is_err());
        assert_eq!(
            parse_args(&args(
                "ws-load --connections 20 --size 16384 --duration 3 ws://127.0.0.1:9/ws"
            )),
            Ok(Mode::WsLoad(LoadArgs {
                url: "ws://127.0.0.1:9/ws".into(),
                connections: 20,
                size: 16384,
                secs: 3,
            }))
        );
        assert!(parse_args(&args("ws-load --connections 20")).is_err());
    }

    #[test]
    fn h3_modes() {
        assert_eq!(
            parse_args(&args("h3-server --port 9")),
            Ok(Mode::H3Server { port: 9 })
        );
        assert_eq!(
            parse_args(&args(
                "h3-load --streams 5 --duration 3 https://127.0.0.1:9/"
            )),
            Ok(Mode::H3Load(h3_load::LoadArgs {
                url: "https://127.0.0.1:9/".into(),
                connections: 10,
                streams: 5,
                secs: 3,
            }))
        );
        assert!(parse_args(&args("h3-load --streams 0 https://127.0.0.1:9/")).is_err());
        assert!(parse_args(&args("h3-load --connections 2")).is_err());
    }
}
