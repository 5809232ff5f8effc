//! Time per request: cases measured in interleaved rounds, each case's figure
//! the median of its rounds.
//!
//! Time is the measuring thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not the
//! wall clock: on a shared machine the scheduler hands the core to other
//! processes now and then, and that time is not the code's. What they do to
//! the caches still shows; interleaving (A B A B …, not A A B B) spreads that
//! over all cases alike, which is what a ratio between them needs.

use std::time::Duration;

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
        let started = thread_cpu();
        (case.run)(n);
        if thread_cpu() - started >= Duration::from_millis(5) || n >= 1 << 30 {
            return n;
        }
        n *= 2;
    }
}

fn run_for(case: &mut Case, least: Duration) {
    let started = thread_cpu();
    while thread_cpu() - started < least {
        (case.run)(64);
    }
}

/// Runs chunks until `least` has passed; returns the steps run and the time.
fn run_chunks(case: &mut Case, chunk: u64, least: Duration) -> (u64, Duration) {
    let started = thread_cpu();
    let mut n = 0;
    loop {
        (case.run)(chunk);
        n += chunk;
        let elapsed = thread_cpu() - started;
        if elapsed >= least {
            return (n, elapsed);
        }
    }
}

/// CPU time the calling thread has used so far.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec`; the clock id is a constant
    // every Linux kernel since 2.6.12 supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
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

    /// Spins for `d` of this thread's CPU time.
    fn spin(d: Duration) {
        let started = thread_cpu();
        while thread_cpu() - started < d {
            std::hint::spin_loop();
        }
    }

    #[test]
    fn sleeping_is_not_counted() {
        let started = thread_cpu();
        std::thread::sleep(Duration::from_millis(50));
        assert!(thread_cpu() - started < Duration::from_millis(25));
    }

    #[test]
    fn times_per_request() {
        let mut steps = 0;
        let mut cases = [Case {
            per_step: 4,
            run: Box::new(|n| {
                steps += n;
                spin(Duration::from_micros(n * 40));
            }),
        }];
        let plan = Plan {
            warmup: Duration::from_millis(1),
            rounds: 3,
            round: Duration::from_millis(20),
        };
        let ns = time(&mut cases, plan)[0];
        drop(cases);
        // 40 µs a step of 4 requests: 10 µs a request, plus the clock's readings.
        assert!((10_000.0..12_000.0).contains(&ns), "{ns}");
        assert!(steps > 0);
    }
}
