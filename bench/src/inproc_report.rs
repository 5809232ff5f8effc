//! The figures `roadrunner-bench-inproc` measures without a kernel, and the
//! plain text (one figure per line) it prints them in for the harness.

use std::fmt::Write;

/// One codec input: the codec and the httparse floor, ns per request.
#[derive(Debug, Clone, PartialEq)]
pub struct CodecFigure {
    /// `small` (wrk's `GET /`) or `browser` (a 9-field browser request).
    pub input: String,
    /// Requests per connection, all in one read.
    pub pipelined: usize,
    pub roadrunner_ns: f64,
    pub floor_ns: f64,
}

impl CodecFigure {
    /// The codec's cost in units of the floor's.
    pub fn ratio(&self) -> f64 {
        self.roadrunner_ns / self.floor_ns
    }
}

/// Everything the companion measures.
#[derive(Debug, Clone, PartialEq)]
pub struct InProc {
    /// User-space ns per request of the in-memory driver, one request per read.
    pub driver_keep_alive_ns: f64,
    /// The same with 16 pipelined requests per read.
    pub driver_pipelined_ns: f64,
    pub codec: Vec<CodecFigure>,
    /// Heap allocations per kept-alive request, counted (not sampled).
    pub allocs_per_request: f64,
}

impl InProc {
    /// The lines the companion prints on stdout.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "driver keep-alive {:.1}\ndriver pipelined-16 {:.1}\n",
            self.driver_keep_alive_ns, self.driver_pipelined_ns
        );
        for c in &self.codec {
            let _ = writeln!(
                out,
                "codec {} x{} {:.1} {:.1}",
                c.input, c.pipelined, c.roadrunner_ns, c.floor_ns
            );
        }
        let _ = writeln!(out, "allocations keep-alive {}", self.allocs_per_request);
        out
    }

    /// Reads [`Self::to_text`]'s lines back; every figure must be there.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (mut keep_alive, mut pipelined, mut allocs) = (None, None, None);
        let mut codec = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let words: Vec<&str> = line.split_whitespace().collect();
            let bad = || format!("unexpected line {line:?}");
            let num = |w: &str| w.parse::<f64>().map_err(|_| bad());
            match words.as_slice() {
                ["driver", "keep-alive", ns] => keep_alive = Some(num(ns)?),
                ["driver", "pipelined-16", ns] => pipelined = Some(num(ns)?),
                ["allocations", "keep-alive", n] => allocs = Some(num(n)?),
                ["codec", input, depth, rr, floor] => codec.push(CodecFigure {
                    input: input.to_string(),
                    pipelined: depth
                        .strip_prefix('x')
                        .and_then(|d| d.parse().ok())
                        .ok_or_else(bad)?,
                    roadrunner_ns: num(rr)?,
                    floor_ns: num(floor)?,
                }),
                _ => return Err(bad()),
            }
        }
        let missing = |what: &str| format!("no `{what}` line in {text:?}");
        Ok(InProc {
            driver_keep_alive_ns: keep_alive.ok_or_else(|| missing("driver keep-alive"))?,
            driver_pipelined_ns: pipelined.ok_or_else(|| missing("driver pipelined-16"))?,
            allocs_per_request: allocs.ok_or_else(|| missing("allocations keep-alive"))?,
            codec,
        })
    }

    /// The figure for `input` sent `pipelined` deep, if measured.
    pub fn codec(&self, input: &str, pipelined: usize) -> Option<&CodecFigure> {
        self.codec
            .iter()
            .find(|c| c.input == input && c.pipelined == pipelined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> InProc {
        InProc {
            driver_keep_alive_ns: 1180.24,
            driver_pipelined_ns: 1020.0,
            codec: vec![CodecFigure {
                input: "small".into(),
                pipelined: 16,
                roadrunner_ns: 503.0,
                floor_ns: 156.0,
            }],
            allocs_per_request: 8.0,
        }
    }

    #[test]
    fn text_round_trips() {
        let text = sample().to_text();
        assert_eq!(
            text,
            "driver keep-alive 1180.2\ndriver pipelined-16 1020.0\n\
             codec small x16 503.0 156.0\nallocations keep-alive 8\n"
        );
        let back = InProc::parse(&text).unwrap();
        assert_eq!(back.driver_keep_alive_ns, 1180.2);
        assert_eq!(back.codec("small", 16), sample().codec("small", 16));
        assert!(back.codec("small", 1).is_none());
        assert!((back.codec[0].ratio() - 503.0 / 156.0).abs() < 1e-12);
    }

    #[test]
    fn rejects_missing_and_unknown_lines() {
        assert!(InProc::parse("driver keep-alive 1\n").is_err());
        let text = sample().to_text() + "codec small 16 1 2\n";
        assert!(InProc::parse(&text).is_err());
        let text = sample().to_text() + "warp 9\n";
        assert!(InProc::parse(&text).is_err());
    }
}
