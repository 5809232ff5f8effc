//! Result tables, one per scenario, with ratios and spelled-out comparisons.

use std::fmt::Write;

use crate::cli::Scenario;
use crate::h1_speed::Summary;
use crate::load::Load;
use crate::memory::Memory;
use crate::{speed_table, variant};

/// Rows every other row is compared against, where present.
const BASELINES: [&str; 6] = [
    "hyper",
    "hyper-flush",
    "hyper-h2",
    "fastwebsockets",
    "tungstenite",
    "h3-quinn",
];

/// A scenario's measurements, labelled by variant.
pub enum Results {
    Load(Vec<(&'static str, Load)>),
    Memory(Vec<(&'static str, Memory)>),
    /// The `h1-speed` summary.
    Speed(Box<Summary>),
}

/// Everything reported for one scenario.
pub struct Section {
    pub scenario: Scenario,
    /// The client's command line, then each server's (`label: command`).
    pub commands: Vec<String>,
    pub results: Results,
}

impl Section {
    /// The markdown table, followed by the scenario's comparisons in words.
    pub fn render(&self) -> String {
        match &self.results {
            Results::Load(rows) => {
                load_table(rows, columns(self.scenario)) + &comparisons(self.scenario, rows)
            }
            Results::Memory(rows) => memory_table(rows),
            Results::Speed(summary) => {
                speed_table::render(&summary.rows)
                    + &speed_table::starved_note(&summary.starved)
                    + "\n"
                    + &speed_table::inproc_table(&summary.inproc)
            }
        }
    }
}

/// How a scenario's load table is headed.
#[derive(Clone, Copy)]
struct Columns {
    /// What the client completes: `req`, or `msg` (echoed WebSocket messages).
    unit: &'static str,
    /// The headers of [`crate::load::Outcome::latency_us`]'s two figures.
    latency: [&'static str; 2],
}

fn columns(scenario: Scenario) -> Columns {
    Columns {
        unit: if scenario.is_ws() { "msg" } else { "req" },
        latency: if scenario.is_h2() {
            ["mean", "max"]
        } else {
            ["p50", "p99"]
        },
    }
}

/// The table; with client CPU columns when the client reported its CPU time.
fn load_table(rows: &[(&str, Load)], columns: Columns) -> String {
    let bases: Vec<&(&str, Load)> = BASELINES
        .iter()
        .filter_map(|b| rows.iter().find(|(label, _)| label == b))
        .collect();
    let client_cpu = rows.iter().any(|(_, r)| r.client.client_cpu.is_some());
    let u = columns.unit;
    let mut out = format!("| server | {u}/s | CPU µs/{u} |");
    for (b, _) in &bases {
        let _ = write!(out, " {u}/s ÷ {b} | CPU/{u} ÷ {b} |");
    }
    out.push_str(" server CPU |");
    if client_cpu {
        let _ = write!(out, " client CPU µs/{u} | client CPU |");
    }
    let [l0, l1] = columns.latency;
    let _ = write!(out, " {l0} | {l1} | errors |\n|---|---:|---:|");
    out.push_str(&"---:|---:|".repeat(bases.len() + usize::from(client_cpu)));
    out.push_str("---:|---:|---:|---:|\n");
    for (label, r) in rows {
        let _ = write!(
            out,
            "| {label} | {:.0} | {:.2} |",
            r.client.req_per_sec, r.cpu_us_per_req
        );
        for (_, b) in &bases {
            let _ = write!(
                out,
                " {} | {} |",
                ratio(r.client.req_per_sec, b.client.req_per_sec),
                ratio(r.cpu_us_per_req, b.cpu_us_per_req)
            );
        }
        let _ = write!(out, " {:.0}% |", r.cpu_utilisation * 100.0);
        if client_cpu {
            match r.client.client_cpu {
                Some(c) => {
                    let _ = write!(
                        out,
                        " {:.2} | {:.0}% |",
                        c.us_per_req,
                        c.utilisation * 100.0
                    );
                }
                None => out.push_str(" – | – |"),
            }
        }
        let _ = writeln!(
            out,
            " {} | {} | {} |",
            latency(r.client.latency_us[0]),
            latency(r.client.latency_us[1]),
            r.client.errors,
        );
    }
    out
}

/// One line per [`variant::comparisons`] pair that was measured.
fn comparisons(scenario: Scenario, rows: &[(&str, Load)]) -> String {
    let find = |name: &str| rows.iter().find(|(label, _)| *label == name).map(|r| &r.1);
    let mut out = String::new();
    for &(name, reference) in variant::comparisons(scenario) {
        if let (Some(v), Some(r)) = (find(name), find(reference)) {
            let _ = writeln!(
                out,
                "\n`{name}` vs `{reference}`: CPU/req {} ({:.2} → {:.2} µs), req/s {}.",
                change(v.cpu_us_per_req, r.cpu_us_per_req),
                r.cpu_us_per_req,
                v.cpu_us_per_req,
                change(v.client.req_per_sec, r.client.req_per_sec),
            );
        }
    }
    out
}

fn memory_table(rows: &[(&str, Memory)]) -> String {
    let base = rows.iter().find(|(label, _)| *label == BASELINES[0]);
    let mut out = String::from(
        "| server | connections | RSS before | RSS after idle | KiB / conn at open \
         | KiB / idle conn | ÷ hyper |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (label, m) in rows {
        let _ = writeln!(
            out,
            "| {label} | {} | {:.1} MiB | {:.1} MiB | {:.2} | {:.2} | {} |",
            m.connections,
            m.rss_before_kib as f64 / 1024.0,
            m.rss_after_kib as f64 / 1024.0,
            m.kib_per_connection_at_open(),
            m.kib_per_connection(),
            base.map_or("–".into(), |(_, b)| ratio(
                m.kib_per_connection(),
                b.kib_per_connection()
            )),
        );
    }
    out
}

/// `value / base` formatted as `1.23×`.
fn ratio(value: f64, base: f64) -> String {
    if base > 0.0 && value.is_finite() {
        format!("{:.2}×", value / base)
    } else {
        "–".into()
    }
}

/// The relative change from `base` to `value`, e.g. `−12.3%`.
fn change(value: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:+.1}%", (value / base - 1.0) * 100.0).replace('-', "−")
    } else {
        "–".into()
    }
}

/// A latency in µs formatted with a readable unit.
fn latency(us: Option<f64>) -> String {
    match us {
        None => "–".into(),
        Some(us) if us < 1000.0 => format!("{us:.0} µs"),
        Some(us) if us < 1e6 => format!("{:.2} ms", us / 1e3),
        Some(us) => format!("{:.2} s", us / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Outcome;

    fn load(rps: f64, cpu: f64) -> Load {
        Load {
            client: Outcome {
                requests: 1,
                req_per_sec: rps,
                latency_us: [Some(250.0), Some(1500.0)],
                errors: 0,
                client_cpu: None,
            },
            cpu_us_per_req: cpu,
            cpu_utilisation: 1.0,
        }
    }

    #[test]
    fn ratios_against_both_hypers_when_present() {
        let t = load_table(
            &[
                ("hyper", load(100.0, 10.0)),
                ("hyper-flush", load(200.0, 5.0)),
                ("roadrunner-tokio", load(150.0, 5.0)),
            ],
            columns(Scenario::KeepAlive),
        );
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].contains("÷ hyper |") && lines[0].contains("÷ hyper-flush |"));
        assert!(
            lines[4].contains("| 1.50× | 0.50× | 0.75× | 1.00× |"),
            "{}",
            lines[4]
        );
        assert!(lines[4].contains("250 µs | 1.50 ms"), "{}", lines[4]);
        let t = load_table(
            &[("roadrunner-tokio", load(150.0, 5.0))],
            columns(Scenario::KeepAlive),
        );
        assert!(!t.contains('÷'), "{t}");
    }

    #[test]
    fn h2_rows_against_hyper_h2() {
        let rows = [
            ("hyper-h2", load(100.0, 10.0)),
            ("roadrunner-smol", load(120.0, 6.0)),
        ];
        let t = Section {
            scenario: Scenario::H2,
            commands: Vec::new(),
            results: Results::Load(rows.to_vec()),
        }
        .render();
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[0].contains("÷ hyper-h2 | server CPU | mean | max |"),
            "{}",
            lines[0]
        );
        assert!(lines[3].contains("| 1.20× | 0.60× |"), "{}", lines[3]);
    }

    #[test]
    fn ws_rows_against_both_baselines_with_client_cpu() {
        let mut rows = vec![
            ("fastwebsockets", load(100.0, 10.0)),
            ("tungstenite", load(80.0, 12.5)),
            ("roadrunner-tokio", load(100.0, 7.5)),
        ];
        for (_, r) in &mut rows {
            r.client.client_cpu = Some(crate::load::ClientCpu {
                us_per_req: 9.0,
                utilisation: 0.9,
            });
        }
        let t = Section {
            scenario: Scenario::Ws16k,
            commands: Vec::new(),
            results: Results::Load(rows),
        }
        .render();
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[0].starts_with("| server | msg/s | CPU µs/msg | msg/s ÷ fastwebsockets |")
                && lines[0].contains("CPU/msg ÷ tungstenite | server CPU | client CPU µs/msg |"),
            "{}",
            lines[0]
        );
        assert_eq!(
            lines[1].matches('|').count(),
            lines[0].matches('|').count(),
            "{t}"
        );
        assert!(
            lines[4].contains("| 1.00× | 0.75× | 1.25× | 0.60× | 100% | 9.00 | 90% |"),
            "{}",
            lines[4]
        );
    }

    #[test]
    fn comparison_in_words() {
        let rows = [
            ("roadrunner-smol", load(100.0, 10.0)),
            ("roadrunner-smol (no graceful drain)", load(110.0, 8.0)),
        ];
        let c = comparisons(Scenario::Short, &rows);
        assert!(
            c.contains("CPU/req −20.0% (10.00 → 8.00 µs), req/s +10.0%"),
            "{c}"
        );
    }

    #[test]
    fn memory_per_connection() {
        let m = |before, after| Memory {
            connections: 1000,
            rss_before_kib: before,
            rss_open_kib: after,
            rss_after_kib: after,
        };
        let t = memory_table(&[("hyper", m(1024, 5120)), ("roadrunner-smol", m(2048, 4096))]);
        assert!(
            t.contains("| roadrunner-smol | 1000 | 2.0 MiB | 4.0 MiB | 2.05 | 2.05 | 0.50× |"),
            "{t}"
        );
    }
}
