//! The server configurations measured in each scenario, and how to start them.

use std::path::Path;
use std::process::Command;

use crate::cli::{Scenario, Server};

/// One server configuration: a row of a scenario's table.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// Row label, e.g. `roadrunner-tokio (limit 1000)`.
    pub label: &'static str,
    pub server: Server,
    /// Flags after `hyper-server --port 0`, `ws-server --port 0`,
    /// `h3-server --port 0` or `--port 0 --runtime R` (demo).
    pub flags: &'static [&'static str],
}

/// hyper has no per-connection request limit; lift roadrunner's (default 1000).
const NO_LIMIT: &[&str] = &["--max-keep-alive-requests", "1000000"];
/// Room for the `memory` scenario's idle connections.
const IDLE: &[&str] = &["--max-clients", "20000", "--keep-alive-timeout", "600000"];
const IDLE_HIBERNATE: &[&str] = &[
    "--max-clients",
    "20000",
    "--keep-alive-timeout",
    "600000",
    "--hibernate-after",
    "1000",
];
/// Prior-knowledge h2c only, as the hyper-h2 baseline speaks it: no HTTP/1.1
/// preface sniffing on the connection.
const H2C: &[&str] = &["--protocols", "http2"];
/// HTTP/3 needs TLS; it is served on the UDP port of the TCP port's number,
/// beside HTTP/1.1 and HTTP/2 there, as the demo documents it.
const H3: &[&str] = &["--tls", "--protocols", "http1,http2,http3"];

const fn v(label: &'static str, server: Server, flags: &'static [&'static str]) -> Variant {
    Variant {
        label,
        server,
        flags,
    }
}

/// The configurations `scenario` measures, in table order.
pub fn variants(scenario: Scenario) -> Vec<Variant> {
    use Server::*;
    match scenario {
        Scenario::KeepAlive | Scenario::Pipelined => vec![
            v("hyper", Hyper, &[]),
            v("hyper-flush", HyperFlush, &["--pipeline-flush"]),
            v("floor", Floor, &[]),
            v("roadrunner-tokio", RoadrunnerTokio, NO_LIMIT),
            v("roadrunner-tokio (limit 1000)", RoadrunnerTokio, &[]),
            v("roadrunner-smol", RoadrunnerSmol, NO_LIMIT),
        ],
        Scenario::Short => vec![
            v("hyper", Hyper, &[]),
            v("roadrunner-tokio", RoadrunnerTokio, &[]),
            v(
                "roadrunner-tokio (no graceful drain)",
                RoadrunnerTokio,
                &["--no-graceful-drain"],
            ),
            v("roadrunner-smol", RoadrunnerSmol, &[]),
            v(
                "roadrunner-smol (no graceful drain)",
                RoadrunnerSmol,
                &["--no-graceful-drain"],
            ),
        ],
        Scenario::Memory => vec![
            v("hyper", Hyper, &[]),
            v("roadrunner-tokio", RoadrunnerTokio, IDLE),
            v(
                "roadrunner-tokio (hibernate 1 s)",
                RoadrunnerTokio,
                IDLE_HIBERNATE,
            ),
            v("roadrunner-smol", RoadrunnerSmol, IDLE),
            v(
                "roadrunner-smol (hibernate 1 s)",
                RoadrunnerSmol,
                IDLE_HIBERNATE,
            ),
        ],
        Scenario::H2 | Scenario::H2Big => vec![
            v("hyper-h2", HyperH2, &["--http2"]),
            v("roadrunner-tokio", RoadrunnerTokio, H2C),
            v("roadrunner-smol", RoadrunnerSmol, H2C),
        ],
        // The demo's defaults serve `/ws` as it is: 150 clients, 60 s idle timeout,
        // permessage-deflate offered (and not taken: ws-load does not ask for it).
        Scenario::Ws | Scenario::Ws16k => vec![
            v(
                "fastwebsockets",
                Fastwebsockets,
                &["--impl", "fastwebsockets"],
            ),
            v("tungstenite", Tungstenite, &["--impl", "tungstenite"]),
            v("ws-floor", WsFloor, &["--impl", "floor"]),
            v("roadrunner-tokio", RoadrunnerTokio, &[]),
            v("roadrunner-smol", RoadrunnerSmol, &[]),
        ],
        Scenario::H3 | Scenario::H3Big => vec![
            v("h3-quinn", H3Quinn, &[]),
            v("roadrunner-tokio", RoadrunnerTokio, H3),
            v("roadrunner-smol", RoadrunnerSmol, H3),
        ],
        // Composite: it runs rows of keep-alive and pipelined (`h1_speed_variants`).
        Scenario::H1Speed => Vec::new(),
    }
}

/// The rows of `keep-alive` or `pipelined` that the `h1-speed` summary reads.
pub fn h1_speed_variants(scenario: Scenario) -> Vec<Variant> {
    let wanted: &[&str] = match scenario {
        Scenario::KeepAlive => &["hyper", "floor", "roadrunner-tokio", "roadrunner-smol"],
        Scenario::Pipelined => &["hyper", "hyper-flush", "floor", "roadrunner-tokio"],
        _ => &[],
    };
    variants(scenario)
        .into_iter()
        .filter(|v| wanted.contains(&v.label))
        .collect()
}

/// Pairs `(variant, reference)` whose difference a scenario reports in words.
pub fn comparisons(scenario: Scenario) -> &'static [(&'static str, &'static str)] {
    match scenario {
        Scenario::KeepAlive | Scenario::Pipelined => {
            &[("roadrunner-tokio (limit 1000)", "roadrunner-tokio")]
        }
        Scenario::Short => &[
            ("roadrunner-tokio (no graceful drain)", "roadrunner-tokio"),
            ("roadrunner-smol (no graceful drain)", "roadrunner-smol"),
        ],
        Scenario::Memory
        | Scenario::H2
        | Scenario::H2Big
        | Scenario::Ws
        | Scenario::Ws16k
        | Scenario::H3
        | Scenario::H3Big
        | Scenario::H1Speed => &[],
    }
}

impl Variant {
    /// Whether the server is one of this harness's own modes.
    fn is_baseline(self) -> bool {
        !matches!(
            self.server,
            Server::RoadrunnerTokio | Server::RoadrunnerSmol
        )
    }

    /// Arguments after the program name.
    fn args(self) -> Vec<&'static str> {
        let mut args = if matches!(
            self.server,
            Server::Tungstenite | Server::Fastwebsockets | Server::WsFloor
        ) {
            vec!["ws-server", "--port", "0"]
        } else if self.server == Server::H3Quinn {
            vec!["h3-server", "--port", "0"]
        } else if self.server == Server::Floor {
            vec!["floor-server", "--port", "0"]
        } else if self.is_baseline() {
            vec!["hyper-server", "--port", "0"]
        } else {
            let runtime = if self.server == Server::RoadrunnerTokio {
                "tokio"
            } else {
                "smol"
            };
            vec!["--port", "0", "--runtime", runtime]
        };
        args.extend_from_slice(self.flags);
        args
    }

    /// Completes `pinned` (a `taskset` prefix) into the server's command.
    pub fn command(self, mut pinned: Command, self_exe: &Path, demo: Option<&Path>) -> Command {
        if self.is_baseline() {
            pinned.arg(self_exe);
        } else {
            pinned
                .arg(demo.expect("demo located for roadrunner variants"))
                .env("ROADRUNNER_WORKERS", "1");
        }
        pinned.args(self.args());
        pinned
    }

    /// The server command as shown in reports (without `setpriv`).
    pub fn display(self, cpu: usize) -> String {
        let (env, prog) = if self.is_baseline() {
            ("", "roadrunner-bench")
        } else {
            ("ROADRUNNER_WORKERS=1 ", "roadrunner-demo")
        };
        format!("{env}taskset -c {cpu} {prog} {}", self.args().join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_name_existing_rows() {
        for s in Scenario::ALL {
            let labels: Vec<_> = variants(s).iter().map(|v| v.label).collect();
            for (a, b) in comparisons(s) {
                assert!(labels.contains(a) && labels.contains(b), "{a} / {b}");
            }
        }
    }

    #[test]
    fn display() {
        let rows = variants(Scenario::KeepAlive);
        assert_eq!(
            rows[1].display(0),
            "taskset -c 0 roadrunner-bench hyper-server --port 0 --pipeline-flush"
        );
        assert_eq!(
            rows[3].display(0),
            "ROADRUNNER_WORKERS=1 taskset -c 0 roadrunner-demo --port 0 --runtime tokio \
             --max-keep-alive-requests 1000000"
        );
        assert_eq!(
            rows[2].display(0),
            "taskset -c 0 roadrunner-bench floor-server --port 0"
        );
        let rows = variants(Scenario::H2);
        assert_eq!(
            rows[0].display(0),
            "taskset -c 0 roadrunner-bench hyper-server --port 0 --http2"
        );
        assert_eq!(
            rows[2].display(0),
            "ROADRUNNER_WORKERS=1 taskset -c 0 roadrunner-demo --port 0 --runtime smol \
             --protocols http2"
        );
        let rows = variants(Scenario::Ws16k);
        assert_eq!(
            rows[1].display(0),
            "taskset -c 0 roadrunner-bench ws-server --port 0 --impl tungstenite"
        );
        assert_eq!(
            rows[2].display(0),
            "taskset -c 0 roadrunner-bench ws-server --port 0 --impl floor"
        );
        assert_eq!(
            rows[3].display(0),
            "ROADRUNNER_WORKERS=1 taskset -c 0 roadrunner-demo --port 0 --runtime tokio"
        );
        let rows = variants(Scenario::H3Big);
        assert_eq!(
            rows[0].display(0),
            "taskset -c 0 roadrunner-bench h3-server --port 0"
        );
        assert_eq!(
            rows[2].display(0),
            "ROADRUNNER_WORKERS=1 taskset -c 0 roadrunner-demo --port 0 --runtime smol \
             --tls --protocols http1,http2,http3"
        );
    }
}
