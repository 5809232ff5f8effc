//! The `h1-speed` scenario: every figure of the HTTP/1.1 speed issue in one
//! run. The keep-alive and pipelined wrk rows it needs (hyper, hyper-flush, the
//! canned-reply floor, roadrunner on tokio and smol), then the in-process
//! figures (`roadrunner-bench-inproc`), then one table against the targets.

use roadrunner_bench::inproc_report::InProc;

use crate::cli::Scenario;
use crate::inproc::InProcCommand;
use crate::load::{Load, SATURATED};
use crate::report::{Results, Section};
use crate::speed_table::{Figure, Row, Target, Unit};
use crate::{run_scenario, variant, Env};

/// The summary: the rows against the targets, and every in-process figure.
pub struct Summary {
    pub rows: Vec<Row>,
    /// wrk rows whose server did not keep its core busy, e.g. `keep-alive
    /// hyper 31%`: their CPU per request was measured on a starved server.
    pub starved: Vec<String>,
    pub inproc: InProc,
}

/// Runs the wrk rows and the in-process figures; returns the keep-alive and
/// pipelined sections, then the summary's.
pub fn run(env: &Env) -> Result<Vec<Section>, String> {
    let mut sections = Vec::new();
    for scenario in [Scenario::KeepAlive, Scenario::Pipelined] {
        let variants: Vec<_> = variant::h1_speed_variants(scenario)
            .into_iter()
            .filter(|v| env.opts.servers.contains(&v.server))
            .collect();
        if !variants.is_empty() {
            sections.push(run_scenario(env, scenario, &variants)?);
        }
    }
    let exe = env
        .inproc
        .as_deref()
        .expect("located before any run when h1-speed is selected");
    let command = InProcCommand {
        exe,
        cpu: env.opts.server_cpu,
        pdeathsig: env.pdeathsig,
        quick: env.opts.quick,
    };
    let inproc = command.run()?;
    let loads = |scenario| {
        sections
            .iter()
            .filter(|s: &&Section| s.scenario == scenario)
            .find_map(|s| match &s.results {
                Results::Load(rows) => Some(rows.as_slice()),
                _ => None,
            })
            .unwrap_or(&[])
    };
    let rows = rows(
        loads(Scenario::KeepAlive),
        loads(Scenario::Pipelined),
        &inproc,
    );
    let starved = [Scenario::KeepAlive, Scenario::Pipelined]
        .into_iter()
        .flat_map(|scenario| {
            loads(scenario)
                .iter()
                .filter(|(_, load)| load.cpu_utilisation < SATURATED)
                .map(move |(label, load)| {
                    let busy = load.cpu_utilisation * 100.0;
                    format!("{} {label} {busy:.0}%", scenario.name())
                })
        })
        .collect();
    let summary = Section {
        scenario: Scenario::H1Speed,
        commands: vec![
            format!("in-process: `{}`", command.display()),
            "wrk rows: the keep-alive and pipelined tables of this run".into(),
        ],
        results: Results::Speed(Box::new(Summary {
            rows,
            starved,
            inproc,
        })),
    };
    sections.push(summary);
    Ok(sections)
}

/// The issue's table, filled from the wrk rows and the in-process figures.
fn rows(keep_alive: &[(&str, Load)], pipelined: &[(&str, Load)], inproc: &InProc) -> Vec<Row> {
    let wrk = |rows, who, value: fn(&Load) -> f64| {
        let load = find(rows, who);
        Figure {
            who,
            value: load.map(value),
            starved: load.is_some_and(|l| l.cpu_utilisation < SATURATED),
        }
    };
    let cpu = |who| wrk(keep_alive, who, |l| l.cpu_us_per_req);
    let rps = |who| wrk(pipelined, who, |l| l.client.req_per_sec);
    let pipelined_cpu = |who| wrk(pipelined, who, |l| l.cpu_us_per_req);
    let codec = inproc.codec("small", 16);
    let issue_floor = "reference (the issue measured 0.80–0.92 × hyper)";
    vec![
        Row {
            figure: "keep-alive: server CPU per request",
            unit: Unit::CpuUsPerReq,
            baseline: Some(cpu("hyper")),
            subject: cpu("roadrunner-tokio"),
            target: Target::RatioAtMost(0.9),
        },
        Row {
            figure: "keep-alive: server CPU per request, canned-reply floor",
            unit: Unit::CpuUsPerReq,
            baseline: Some(cpu("hyper")),
            subject: cpu("floor"),
            target: Target::Reference(issue_floor),
        },
        Row {
            figure: "pipelined 16 deep: requests/s",
            unit: Unit::ReqPerSec,
            baseline: Some(rps("hyper-flush")),
            subject: rps("roadrunner-tokio"),
            target: Target::RatioAtLeast(1.3),
        },
        Row {
            figure: "pipelined 16 deep: server CPU per request",
            unit: Unit::CpuUsPerReq,
            baseline: Some(pipelined_cpu("hyper-flush")),
            subject: pipelined_cpu("roadrunner-tokio"),
            target: Target::Reference(
                "reference (req/s is wrk's ceiling where a server's core is not busy)",
            ),
        },
        Row {
            figure: "pipelined 16 deep: requests/s, against hyper without `pipeline_flush`",
            unit: Unit::ReqPerSec,
            baseline: Some(rps("hyper")),
            subject: rps("roadrunner-tokio"),
            target: Target::Reference("reference"),
        },
        Row {
            figure: "pipelined 16 deep: requests/s, canned-reply floor",
            unit: Unit::ReqPerSec,
            baseline: Some(rps("hyper-flush")),
            subject: rps("floor"),
            target: Target::Reference("reference"),
        },
        Row {
            figure: "codec alone, small request pipelined 16 deep",
            unit: Unit::NsPerReq,
            baseline: Some(Figure::inproc("httparse floor", codec.map(|c| c.floor_ns))),
            subject: Figure::inproc("roadrunner-h1", codec.map(|c| c.roadrunner_ns)),
            target: Target::RatioAtMost(1.5),
        },
        Row {
            figure: "user-space path per kept-alive request (in-memory driver)",
            unit: Unit::NsPerReq,
            baseline: None,
            subject: Figure::inproc("roadrunner", Some(inproc.driver_keep_alive_ns)),
            target: Target::AtMost(500.0),
        },
        Row {
            figure: "heap allocations per kept-alive request",
            unit: Unit::AllocsPerReq,
            baseline: None,
            subject: Figure::inproc("roadrunner", Some(inproc.allocs_per_request)),
            target: Target::AtMost(3.0),
        },
        Row {
            figure: "smol keep-alive: server CPU per request",
            unit: Unit::CpuUsPerReq,
            baseline: Some(cpu("roadrunner-tokio")),
            subject: cpu("roadrunner-smol"),
            target: Target::RatioAtMost(1.05),
        },
    ]
}

fn find<'a>(rows: &'a [(&str, Load)], label: &str) -> Option<&'a Load> {
    rows.iter().find(|(l, _)| *l == label).map(|(_, load)| load)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Outcome;
    use crate::speed_table::Verdict;
    use roadrunner_bench::inproc_report::CodecFigure;

    fn load(rps: f64, cpu: f64) -> Load {
        Load {
            client: Outcome {
                requests: 1,
                req_per_sec: rps,
                latency_us: [None, None],
                errors: 0,
                client_cpu: None,
            },
            cpu_us_per_req: cpu,
            cpu_utilisation: 1.0,
        }
    }

    fn inproc() -> InProc {
        InProc {
            driver_keep_alive_ns: 450.0,
            driver_pipelined_ns: 400.0,
            codec: vec![CodecFigure {
                input: "small".into(),
                pipelined: 16,
                roadrunner_ns: 300.0,
                floor_ns: 150.0,
            }],
            allocs_per_request: 8.0,
        }
    }

    #[test]
    fn every_row_reads_a_measured_figure() {
        let keep_alive = [
            ("hyper", load(100.0, 10.0)),
            ("floor", load(120.0, 8.5)),
            ("roadrunner-tokio", load(110.0, 8.9)),
            ("roadrunner-smol", load(100.0, 9.5)),
        ];
        let pipelined = [
            ("hyper", load(100.0, 7.0)),
            ("hyper-flush", load(1000.0, 1.0)),
            ("floor", load(2000.0, 0.5)),
            ("roadrunner-tokio", load(1300.0, 0.8)),
        ];
        let rows = rows(&keep_alive, &pipelined, &inproc());
        let verdicts: Vec<Verdict> = rows.iter().map(Row::verdict).collect();
        use Verdict::*;
        assert_eq!(
            verdicts,
            [Met, Reference, Met, Reference, Reference, Reference, NotMet, Met, NotMet, NotMet]
        );
        assert!(rows.iter().all(|r| r.subject.value.is_some()));
        assert!(rows
            .iter()
            .all(|r| r.baseline.is_none_or(|b| b.value.is_some())));
        assert_eq!(rows[3].ratio(), Some(0.8));
        assert_eq!(rows[6].ratio(), Some(2.0));
    }

    #[test]
    fn the_wrk_rows_it_reads_are_run() {
        for (scenario, who) in [
            (
                Scenario::KeepAlive,
                &["hyper", "floor", "roadrunner-tokio", "roadrunner-smol"][..],
            ),
            (
                Scenario::Pipelined,
                &["hyper", "hyper-flush", "floor", "roadrunner-tokio"],
            ),
        ] {
            let labels: Vec<_> = variant::h1_speed_variants(scenario)
                .iter()
                .map(|v| v.label)
                .collect();
            assert_eq!(labels, who);
        }
    }

    #[test]
    fn rows_read_from_a_starved_server_say_so() {
        let mut hyper = load(100.0, 10.0);
        hyper.cpu_utilisation = 0.5;
        let rows = rows(&[("hyper", hyper)], &[], &inproc());
        let starved: Vec<bool> = rows.iter().map(Row::starved).collect();
        assert_eq!(
            starved,
            [true, true, false, false, false, false, false, false, false, false]
        );
    }

    #[test]
    fn missing_servers_are_not_measured() {
        let rows = rows(&[], &[], &inproc());
        assert_eq!(rows[0].verdict(), Verdict::NotMeasured);
        assert_eq!(rows[7].verdict(), Verdict::Met);
    }
}
