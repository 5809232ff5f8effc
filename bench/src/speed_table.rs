//! The `h1-speed` summary: each figure of the HTTP/1.1 speed issue beside its
//! baseline, the ratio, the target and whether it is met; and the in-process
//! figures in full.

use std::fmt::Write;

use roadrunner_bench::inproc_report::InProc;

use crate::load::SATURATED;

/// What a figure is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    CpuUsPerReq,
    ReqPerSec,
    NsPerReq,
    AllocsPerReq,
}

impl Unit {
    fn suffix(self) -> &'static str {
        match self {
            Unit::CpuUsPerReq => "CPU µs/req",
            Unit::ReqPerSec => "req/s",
            Unit::NsPerReq => "ns/req",
            Unit::AllocsPerReq => "allocations/req",
        }
    }

    fn show(self, value: f64) -> String {
        let decimals = match self {
            Unit::CpuUsPerReq | Unit::AllocsPerReq => 2,
            Unit::ReqPerSec | Unit::NsPerReq => 0,
        };
        format!("{value:.decimals$} {}", self.suffix())
    }
}

/// What a figure must reach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// The ratio to the baseline is at most this.
    RatioAtMost(f64),
    /// The ratio to the baseline is at least this.
    RatioAtLeast(f64),
    /// The value itself is at most this, in the row's unit.
    AtMost(f64),
    /// No target: shown for comparison, with a note.
    Reference(&'static str),
}

/// A measured figure: who, and its value if it was measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figure {
    pub who: &'static str,
    pub value: Option<f64>,
    /// A wrk figure whose server did not keep its core busy.
    pub starved: bool,
}

impl Figure {
    /// A figure measured in process, where no server can be starved.
    pub fn inproc(who: &'static str, value: Option<f64>) -> Self {
        Figure {
            who,
            value,
            starved: false,
        }
    }
}

/// One line of the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub figure: &'static str,
    pub unit: Unit,
    pub baseline: Option<Figure>,
    pub subject: Figure,
    pub target: Target,
}

/// Whether a row's target is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    NotMet,
    /// A figure the target needs is missing (server not selected, say).
    NotMeasured,
    /// The row has no target.
    Reference,
}

impl Row {
    /// subject ÷ baseline, when both were measured.
    pub fn ratio(&self) -> Option<f64> {
        let base = self.baseline?.value?;
        let value = self.subject.value?;
        (base > 0.0 && value.is_finite()).then(|| value / base)
    }

    /// Whether a wrk figure of the row was measured on a starved server.
    pub fn starved(&self) -> bool {
        self.subject.starved || self.baseline.is_some_and(|b| b.starved)
    }

    pub fn verdict(&self) -> Verdict {
        let check = |ok: Option<bool>| match ok {
            Some(true) => Verdict::Met,
            Some(false) => Verdict::NotMet,
            None => Verdict::NotMeasured,
        };
        match self.target {
            Target::RatioAtMost(max) => check(self.ratio().map(|r| r <= max)),
            Target::RatioAtLeast(min) => check(self.ratio().map(|r| r >= min)),
            Target::AtMost(max) => check(self.subject.value.map(|v| v <= max)),
            Target::Reference(_) => Verdict::Reference,
        }
    }

    fn target_text(&self) -> String {
        let base = self.baseline.map_or("", |b| b.who);
        match self.target {
            Target::RatioAtMost(max) => format!("≤ {max} × {base}"),
            Target::RatioAtLeast(min) => format!("≥ {min} × {base}"),
            Target::AtMost(max) => format!("≤ {max} {}", self.unit.suffix()),
            Target::Reference(note) => note.to_string(),
        }
    }
}

/// The summary as a markdown table.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| figure | baseline | roadrunner | ratio | target | met |\n\
         |---|---:|---:|---:|---|---|\n",
    );
    for row in rows {
        let show = |f: &Figure| match f.value {
            Some(v) => format!("{}: {}", f.who, row.unit.show(v)),
            None => format!("{}: not measured", f.who),
        };
        let verdict = match row.verdict() {
            Verdict::Met => "yes",
            Verdict::NotMet => "**no**",
            Verdict::NotMeasured => "not measured",
            Verdict::Reference => "–",
        };
        let caveat = if row.starved() { " (starved)" } else { "" };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {verdict}{caveat} |",
            row.figure,
            row.baseline.as_ref().map_or("–".into(), show),
            show(&row.subject),
            row.ratio().map_or("–".into(), |r| format!("{r:.2}×")),
            row.target_text(),
        );
    }
    out
}

/// A warning under the summary when some wrk rows were measured on a server
/// that did not keep its core busy; nothing when all did.
pub fn starved_note(starved: &[String]) -> String {
    if starved.is_empty() {
        return String::new();
    }
    format!(
        "\nServer CPU below {:.0}% of its core in: {}. Those servers were not what \
         limited the rate (another process on the machine, or the client, was), so \
         the rows marked *(starved)* are uncertain.\n",
        SATURATED * 100.0,
        starved.join(", ")
    )
}

/// Every in-process figure, the codec on each input beside its floor.
pub fn inproc_table(figures: &InProc) -> String {
    let mut out =
        String::from("| in-process figure | roadrunner | floor | ratio |\n|---|---:|---:|---:|\n");
    let _ = writeln!(
        out,
        "| driver, keep-alive (1 request per read) | {:.0} ns/req | – | – |\n\
         | driver, pipelined (16 requests per read) | {:.0} ns/req | – | – |",
        figures.driver_keep_alive_ns, figures.driver_pipelined_ns
    );
    for c in &figures.codec {
        let _ = writeln!(
            out,
            "| codec, {} request ×{} | {:.0} ns/req | {:.0} ns/req | {:.2}× |",
            c.input,
            c.pipelined,
            c.roadrunner_ns,
            c.floor_ns,
            c.ratio()
        );
    }
    let _ = writeln!(
        out,
        "| heap allocations per kept-alive request | {} | – | – |",
        figures.allocs_per_request
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(base: Option<f64>, value: Option<f64>, target: Target) -> Row {
        Row {
            figure: "f",
            unit: Unit::CpuUsPerReq,
            baseline: Some(Figure::inproc("hyper", base)),
            subject: Figure::inproc("roadrunner-tokio", value),
            target,
        }
    }

    #[test]
    fn verdicts() {
        use Verdict::*;
        let at_most = Target::RatioAtMost(0.9);
        assert_eq!(row(Some(10.0), Some(9.0), at_most).verdict(), Met);
        assert_eq!(row(Some(10.0), Some(9.1), at_most).verdict(), NotMet);
        assert_eq!(row(None, Some(9.0), at_most).verdict(), NotMeasured);
        assert_eq!(row(Some(0.0), Some(9.0), at_most).verdict(), NotMeasured);
        let at_least = Target::RatioAtLeast(1.3);
        assert_eq!(row(Some(100.0), Some(130.0), at_least).verdict(), Met);
        assert_eq!(row(Some(100.0), Some(129.0), at_least).verdict(), NotMet);
        let mut absolute = row(None, Some(3.0), Target::AtMost(3.0));
        absolute.baseline = None;
        assert_eq!(absolute.verdict(), Met);
        absolute.subject.value = Some(8.0);
        assert_eq!(absolute.verdict(), NotMet);
        assert_eq!(
            row(Some(1.0), Some(1.0), Target::Reference("")).verdict(),
            Reference
        );
    }

    #[test]
    fn starved_rows_are_named() {
        assert_eq!(starved_note(&[]), "");
        let note = starved_note(&["keep-alive hyper 31%".into()]);
        assert!(
            note.contains("below 90% of its core in: keep-alive hyper 31%."),
            "{note}"
        );
    }

    #[test]
    fn renders_one_line_per_row() {
        let mut starved = row(Some(8.0), Some(9.0), Target::RatioAtMost(0.9));
        starved.subject.starved = true;
        let mut rows = vec![
            starved,
            row(Some(8.0), None, Target::Reference("issue: 0.80–0.92×")),
        ];
        let mut absolute = row(None, Some(1180.4), Target::AtMost(500.0));
        absolute.unit = Unit::NsPerReq;
        absolute.baseline = None;
        rows.push(absolute);
        let t = render(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5, "{t}");
        assert_eq!(
            lines[2],
            "| f | hyper: 8.00 CPU µs/req | roadrunner-tokio: 9.00 CPU µs/req | 1.12× \
             | ≤ 0.9 × hyper | **no** (starved) |"
        );
        assert_eq!(
            lines[3],
            "| f | hyper: 8.00 CPU µs/req | roadrunner-tokio: not measured | – \
             | issue: 0.80–0.92× | – |"
        );
        assert_eq!(
            lines[4],
            "| f | – | roadrunner-tokio: 1180 ns/req | – | ≤ 500 ns/req | **no** |"
        );
    }
}
