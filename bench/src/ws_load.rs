//! The WebSocket load client: the `ws-load` mode, its invocation by the harness
//! (pinned with `taskset`, like wrk), and the one-message check every server
//! passes before it is loaded.
//!
//! `ws-load` opens N connections, completes each one's opening handshake (no
//! extension offered, so every server echoes uncompressed frames), then runs a
//! closed loop on each for a fixed time: one masked binary message of the given
//! size, wait for its echo, check it byte for byte, repeat. It runs on one
//! thread (a tokio current-thread runtime), writes each frame with one `write`
//! and reuses its buffers, so a message costs it one write, one read (more for
//! an echo the kernel delivers in pieces) and a pass over the payload to mask it
//! and one to compare it. A connection that gets anything but the echo (another
//! frame, a wrong byte, an I/O error, the connection closed, no echo in time)
//! stops and counts as one error; the run's report is one line on stdout:
//! `messages=N errors=N secs=S cpu_secs=S p50_us=X p99_us=X`, its own CPU time
//! included, and what the first failure was on stderr.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client_stats::{own_cpu_secs, ClientReport, Histogram};
use crate::load::Outcome;
use crate::ws_proto::{self, Outgoing, Rng};

/// What the report counts.
const UNIT: &str = "messages";
/// A connection whose handshake or echo takes longer than this has stalled.
const STALL_LIMIT: Duration = Duration::from_secs(10);

/// What `ws-load` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadArgs {
    /// `ws://127.0.0.1:PORT/PATH`.
    pub url: String,
    pub connections: u32,
    /// Payload bytes per message.
    pub size: usize,
    /// Seconds of echoing.
    pub secs: u64,
}

/// Splits `ws://HOST:PORT/PATH` into `HOST:PORT` and `/PATH`.
fn split_url(url: &str) -> Result<(&str, &str), String> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| format!("expected a ws:// URL, got `{url}`"))?;
    Ok(match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    })
}

/// The `ws-load` mode: runs the load and prints its report line.
pub fn run(args: &LoadArgs) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build tokio runtime: {e}"))?;
    // Connections share their counters through `Rc`s, so they run as local tasks.
    let local = tokio::task::LocalSet::new();
    let report = local.block_on(&rt, load(args))?;
    println!("{}", report.line(UNIT));
    Ok(())
}

/// What the connections add to as they go.
#[derive(Default)]
struct Shared {
    messages: Cell<u64>,
    errors: Cell<u64>,
    first_error: RefCell<Option<String>>,
    latency: RefCell<Histogram>,
}

impl Shared {
    fn fail(&self, e: String) {
        self.errors.set(self.errors.get() + 1);
        self.first_error.borrow_mut().get_or_insert(e);
    }
}

async fn load(args: &LoadArgs) -> Result<ClientReport, String> {
    let (host, path) = split_url(&args.url)?;
    let mut conns = Vec::with_capacity(args.connections as usize);
    for i in 0..args.connections {
        let mut rng = Rng::new(u64::from(i));
        let conn = tokio::time::timeout(STALL_LIMIT, open(host, path, &mut rng))
            .await
            .map_err(|_| format!("connection {i}: no handshake answer within {STALL_LIMIT:?}"))?
            .map_err(|e| format!("connection {i}: {e}"))?;
        conns.push((conn, rng));
    }

    let shared = Rc::new(Shared::default());
    let cpu_before = own_cpu_secs()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.secs);
    let mut tasks: Vec<_> = conns
        .into_iter()
        .map(|(conn, rng)| {
            tokio::task::spawn_local(echo_loop(conn, rng, args.size, deadline, shared.clone()))
        })
        .collect();
    for task in &mut tasks {
        if tokio::time::timeout_at((deadline + STALL_LIMIT).into(), &mut *task)
            .await
            .is_err()
        {
            task.abort();
            shared.fail(format!("no echo within {STALL_LIMIT:?}"));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu_secs = own_cpu_secs()? - cpu_before;
    if let Some(e) = shared.first_error.borrow().as_deref() {
        eprintln!(
            "ws-load: {} of {} connections failed; the first: {e}",
            shared.errors.get(),
            args.connections
        );
    }
    let latency = shared.latency.borrow();
    Ok(ClientReport {
        count: shared.messages.get(),
        errors: shared.errors.get(),
        body_bytes: None,
        secs,
        cpu_secs,
        p50_us: latency.quantile_us(0.5),
        p99_us: latency.quantile_us(0.99),
    })
}

/// A connection after its handshake, with what was read past the response head.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    filled: usize,
}

/// Connects and completes the opening handshake.
async fn open(host: &str, path: &str, rng: &mut Rng) -> Result<Conn, String> {
    let mut stream = TcpStream::connect(host)
        .await
        .map_err(|e| format!("connect {host}: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("set_nodelay: {e}"))?;
    let key = ws_proto::new_key(rng);
    stream
        .write_all(&ws_proto::handshake_request(host, path, &key))
        .await
        .map_err(|e| format!("write: {e}"))?;
    // Room for the largest echo the runs use (16 KiB) and its header in one read.
    let mut buf = vec![0; 64 * 1024];
    let mut filled = 0;
    let end = loop {
        if let Some(end) = ws_proto::head_end(&buf[..filled]) {
            break end;
        }
        if filled >= ws_proto::MAX_HEAD {
            return Err("handshake response head too long".into());
        }
        let n = stream
            .read(&mut buf[filled..])
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("connection closed during the handshake".into());
        }
        filled += n;
    };
    ws_proto::check_handshake_response(&buf[..end], &key)?;
    buf.copy_within(end..filled, 0);
    Ok(Conn {
        stream,
        buf,
        filled: filled - end,
    })
}

/// Echoes messages of `size` bytes on `conn` until `deadline`.
async fn echo_loop(conn: Conn, mut rng: Rng, size: usize, deadline: Instant, shared: Rc<Shared>) {
    let Conn {
        mut stream,
        mut buf,
        mut filled,
    } = conn;
    let mut out = Outgoing::new(size);
    let mut sent = Instant::now();
    let mut seq = 0u64;
    let result: Result<(), String> = async {
        while sent < deadline {
            seq += 1;
            let key = rng.next_u64().to_ne_bytes();
            stream
                .write_all(out.frame(seq, [key[0], key[1], key[2], key[3]]))
                .await
                .map_err(|e| format!("write: {e}"))?;
            let len = loop {
                if let Some(len) = ws_proto::check_echo(&buf[..filled], out.payload())? {
                    break len;
                }
                if filled == buf.len() {
                    buf.resize(buf.len() * 2, 0);
                }
                let n = stream
                    .read(&mut buf[filled..])
                    .await
                    .map_err(|e| format!("read: {e}"))?;
                if n == 0 {
                    return Err("connection closed by the server".into());
                }
                filled += n;
            };
            buf.copy_within(len..filled, 0);
            filled -= len;
            let now = Instant::now();
            shared.latency.borrow_mut().record(now - sent);
            shared.messages.set(shared.messages.get() + 1);
            sent = now;
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        shared.fail(format!("message {seq}: {e}"));
    }
}

/// One `ws-load` invocation: `[setpriv --pdeathsig KILL] taskset -c CPU
/// roadrunner-bench ws-load --connections N --size B --duration S URL`.
pub struct WsLoadCommand<'a> {
    /// Core the client is pinned to.
    pub cpu: usize,
    /// Start it under `setpriv --pdeathsig KILL` (see [`crate::pin`]).
    pub pdeathsig: bool,
    /// This harness's binary, which holds the client.
    pub self_exe: &'a Path,
    pub connections: u32,
    /// Payload bytes per message.
    pub size: usize,
    /// `ws://127.0.0.1:PORT/PATH`.
    pub url: &'a str,
}

impl WsLoadCommand<'_> {
    fn args(&self, secs: u64) -> Vec<String> {
        vec![
            "ws-load".into(),
            "--connections".into(),
            self.connections.to_string(),
            "--size".into(),
            self.size.to_string(),
            "--duration".into(),
            secs.to_string(),
            self.url.into(),
        ]
    }

    /// The command line as shown in reports (without `setpriv`).
    pub fn display(&self, secs: u64) -> String {
        crate::pin::display_own(self.cpu, &self.args(secs))
    }

    /// Runs the client for `secs` seconds and reads its report.
    pub fn run(&self, secs: u64) -> Result<Outcome, String> {
        let args = self.args(secs);
        let stdout =
            crate::pin::run_own(self.cpu, self.pdeathsig, self.self_exe, &args, "ws-load")?;
        let r = ClientReport::parse(&stdout, UNIT)
            .ok_or_else(|| format!("cannot parse ws-load output:\n{stdout}"))?;
        let latency = [r.p50_us, r.p99_us];
        Ok(Outcome::from_own_client(
            r.count, r.secs, r.cpu_secs, latency, r.errors,
        ))
    }
}

/// One connection, one handshake, one echoed message of `size` bytes (blocking,
/// unpinned), so a misbehaving server fails loudly instead of producing fast
/// nonsense.
pub fn smoke_check(port: u16, path: &str, size: usize) -> Result<(), String> {
    let mut stream = crate::probe::connect(port)?;
    let host = format!("127.0.0.1:{port}");
    let mut rng = Rng::new(0);
    let key = ws_proto::new_key(&mut rng);
    stream
        .write_all(&ws_proto::handshake_request(&host, path, &key))
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = vec![0; 64 * 1024];
    let end = loop {
        if let Some(end) = ws_proto::head_end(&buf) {
            break end;
        }
        let n = stream.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 || buf.len() > ws_proto::MAX_HEAD {
            return Err(format!(
                "no complete handshake response: {:?}",
                String::from_utf8_lossy(&buf)
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    ws_proto::check_handshake_response(&buf[..end], &key)?;
    buf.drain(..end);
    let mut out = Outgoing::new(size);
    let key = rng.next_u64().to_ne_bytes();
    stream
        .write_all(out.frame(1, [key[0], key[1], key[2], key[3]]))
        .map_err(|e| format!("write: {e}"))?;
    while ws_proto::check_echo(&buf, out.payload())?.is_none() {
        let n = stream.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("connection closed before the echo".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trip() {
        let r = ClientReport {
            count: 1_234_567,
            errors: 2,
            body_bytes: None,
            secs: 10.0012,
            cpu_secs: 9.5,
            p50_us: Some(310.5),
            p99_us: None,
        };
        let printed = format!("noise\n{}\n", r.line(UNIT));
        assert_eq!(ClientReport::parse(&printed, UNIT), Some(r));
        assert_eq!(ClientReport::parse("messages=1 errors=0\n", UNIT), None);
    }

    #[test]
    fn urls() {
        assert_eq!(
            split_url("ws://127.0.0.1:80/ws"),
            Ok(("127.0.0.1:80", "/ws"))
        );
        assert_eq!(split_url("ws://127.0.0.1:80"), Ok(("127.0.0.1:80", "/")));
        assert!(split_url("http://127.0.0.1:80/").is_err());
    }

    #[test]
    fn display() {
        let c = WsLoadCommand {
            cpu: 1,
            pdeathsig: true,
            self_exe: Path::new("/x/roadrunner-bench"),
            connections: 100,
            size: 20,
            url: "ws://127.0.0.1:PORT/ws",
        };
        assert_eq!(
            c.display(10),
            "taskset -c 1 roadrunner-bench ws-load --connections 100 --size 20 --duration 10 \
             ws://127.0.0.1:PORT/ws"
        );
    }
}
