//! Wall-clock time per request: cases measured in interleaved rounds, each
//! case's figure the median of its rounds.
//!
//! Interleaving (A B A B …, not A A B B) spreads what other processes do to the
//! machine over all cases alike, which is what a ratio between them needs.

use std::time::{Duration, Instant};

/// One thing to time: `run(n)` does `n` steps of `per_step` requests each.
pub struct Case<'a> {
    pub per_step: u64,
    pub run: Box<dyn FnMut(u64) + 'a>,
}

/// How long to measure.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Unmeasured time per case before the first round.
    pub warmup: Duration,
    /// Rounds per case.
    pub rounds: usize,
    /// Least measured time per round.
    pub round: Duration,
}

/// Nanoseconds per request of each case, in the order given.
pub fn time(cases: &mut [Case], plan: Plan) -> Vec<f64> {
    let steps: Vec<u64> = cases
        .iter_mut()
        .map(|c| {
            run_for(c, plan.warmup);
            chunk_for(c)
        })
        .collect();
    let mut rounds = vec![Vec::with_capacity(plan.rounds); cases.len()];
    for _ in 0..plan.rounds {
        for ((case, &chunk), samples) in cases.iter_mut().zip(&steps).zip(&mut rounds) {
            let (n, elapsed) = run_chunks(case, chunk, plan.round);
            samples.push(elapsed.as_nanos() as f64 / (n * case.per_step) as f64);
        }
    }
    rounds.into_iter().map(median).collect()
}

/// Steps per clock reading: about 5 ms worth, so reading the clock costs
/// nothing measurable.
fn chunk_for(case: &mut Case) -> u64 {
    let mut n = 1;
    loop {
        let started = Instant::now();
        (case.run)(n);
        if started.elapsed() >= Duration::from_millis(5) || n >= 1 << 30 {
            return n;
        }
        n *= 2;
    }
}

fn run_for(case: &mut Case, least: Duration) {
    let started = Instant::now();
    while started.elapsed() < least {
        (case.run)(64);
    }
}

/// Runs chunks until `least` has passed; returns the steps run and the time.
fn run_chunks(case: &mut Case, chunk: u64, least: Duration) -> (u64, Duration) {
    let started = Instant::now();
    let mut n = 0;
    loop {
        (case.run)(chunk);
        n += chunk;
        let elapsed = started.elapsed();
        if elapsed >= least {
            return (n, elapsed);
        }
    }
}

/// The middle sample (the mean of the middle two for an even count).
fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn times_per_request() {
        let mut steps = 0;
        let mut cases = [Case {
            per_step: 4,
            run: Box::new(|n| {
                steps += n;
                std::thread::sleep(Duration::from_micros(n * 40));
            }),
        }];
        let plan = Plan {
            warmup: Duration::from_millis(1),
            rounds: 3,
            round: Duration::from_millis(20),
        };
        let ns = time(&mut cases, plan)[0];
        drop(cases);
        // 40 µs a step of 4 requests: 10 µs a request, plus sleep's overshoot.
        assert!((10_000.0..20_000.0).contains(&ns), "{ns}");
        assert!(steps > 0);
    }
}
