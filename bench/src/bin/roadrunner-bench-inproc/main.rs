//! `roadrunner-bench-inproc`: the HTTP/1.1 figures measured without a kernel,
//! for `roadrunner-bench --scenarios h1-speed`.
//!
//! - the user-space path per request: one connection of the real server driven
//!   over an in-memory stream, one request per read (keep-alive) and 16 per
//!   read (pipelined);
//! - the codec against its httparse floor, on each input, 1 and 16 per read;
//! - heap allocations per kept-alive request, counted by this binary's global
//!   allocator (which is why this is a binary of its own: the harness's servers
//!   keep the system allocator untouched).
//!
//! Times are the thread's CPU time (see `timing`), so other processes taking
//! the core do not count, but their effect on the caches does: run it pinned
//! to an otherwise idle core where there is one (the harness pins it). The figures go to stdout, one per line
//! (`roadrunner_bench::inproc_report`); progress goes to stderr.

// The criterion benches' own workloads, so that both measure the same thing.
#[path = "../../../../codec-h1/benches/codec_work/mod.rs"]
mod codec;
mod counting;
#[path = "../../../../server-core/benches/in_memory/mod.rs"]
mod driver;
mod timing;

use std::time::Duration;

use roadrunner_bench::inproc_report::{CodecFigure, InProc};
use timing::{Case, Plan};

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// Rounds per figure; the figure is their median.
const ROUNDS: usize = 5;

/// Measured CPU seconds per figure unless `--secs` says otherwise.
const DEFAULT_SECS: f64 = 2.5;

const USAGE: &str = "\
roadrunner-bench-inproc: HTTP/1.1 user-space figures without a kernel

USAGE:
    roadrunner-bench-inproc [--secs S]

    --secs S    measured CPU seconds per figure, in 5 rounds (default 2.5), each
                figure after 0.5 s of warm-up
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs = match args.as_slice() {
        [] => DEFAULT_SECS,
        [flag, v] if flag == "--secs" => match v.parse::<f64>() {
            Ok(s) if s > 0.0 && s.is_finite() => s,
            _ => usage_error(&format!("invalid value `{v}` for --secs")),
        },
        [flag] if flag == "-h" || flag == "--help" => {
            print!("{USAGE}");
            return;
        }
        _ => usage_error(&format!("unexpected arguments {args:?}")),
    };
    let plan = Plan {
        warmup: Duration::from_millis(500),
        rounds: ROUNDS,
        round: Duration::from_secs_f64(secs / ROUNDS as f64),
    };
    match measure(plan) {
        Ok(figures) => print!("{}", figures.to_text()),
        Err(e) => {
            eprintln!("roadrunner-bench-inproc: error: {e}");
            std::process::exit(1);
        }
    }
}

fn usage_error(message: &str) -> ! {
    eprintln!("roadrunner-bench-inproc: {message}\n\n{USAGE}");
    std::process::exit(2);
}

fn measure(plan: Plan) -> Result<InProc, String> {
    let allocs_per_request = allocations()?;
    eprintln!("[inproc] {allocs_per_request} heap allocations per kept-alive request");

    let (mut keep_alive, mut pipelined) = (
        driver::Conn::new("keep-alive", 1),
        driver::Conn::new("pipelined-16", 16),
    );
    let driver_ns = timing::time(
        &mut [driver_case(&mut keep_alive), driver_case(&mut pipelined)],
        plan,
    );
    eprintln!(
        "[inproc] driver: {:.0} ns per kept-alive request, {:.0} ns per pipelined request",
        driver_ns[0], driver_ns[1]
    );

    let mut codec = Vec::new();
    for (input, request) in codec::INPUTS {
        for n in [1, 16] {
            let (mut a, mut b) = (codec::Answer::new(), codec::Answer::new());
            let ns = timing::time(
                &mut [
                    Case {
                        per_step: n as u64,
                        run: Box::new(|steps| (0..steps).for_each(|_| a.roadrunner(request, n))),
                    },
                    Case {
                        per_step: n as u64,
                        run: Box::new(|steps| (0..steps).for_each(|_| b.floor(request, n))),
                    },
                ],
                plan,
            );
            let figure = CodecFigure {
                input: input.to_string(),
                pipelined: n,
                roadrunner_ns: ns[0],
                floor_ns: ns[1],
            };
            eprintln!(
                "[inproc] codec {input} x{n}: {:.0} ns, floor {:.0} ns, {:.2}×",
                figure.roadrunner_ns,
                figure.floor_ns,
                figure.ratio()
            );
            codec.push(figure);
        }
    }
    Ok(InProc {
        driver_keep_alive_ns: driver_ns[0],
        driver_pipelined_ns: driver_ns[1],
        codec,
        allocs_per_request,
    })
}

fn driver_case(conn: &mut driver::Conn) -> Case<'_> {
    Case {
        per_step: conn.pipelined,
        run: Box::new(|batches| conn.run(batches)),
    }
}

/// Heap allocations per request on a kept-alive connection, after buffers
/// have grown to their working size and the date cache has filled.
fn allocations() -> Result<f64, String> {
    const WARMUP: u64 = 1_000;
    const REQUESTS: u64 = 10_000;
    let mut conn = driver::Conn::new("allocations", 1);
    conn.run(WARMUP);
    let before = conn.served();
    let count = counting::counted(|| conn.run(REQUESTS));
    let served = conn.served() - before;
    if served != REQUESTS {
        return Err(format!(
            "{REQUESTS} polls answered {served} requests, not one each"
        ));
    }
    Ok(count as f64 / served as f64)
}
