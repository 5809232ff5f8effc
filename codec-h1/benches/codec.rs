//! The codec against its floor: one request parsed into `http` types and answered,
//! beside raw `httparse` building the same `HeaderMap` and writing the same response
//! bytes by hand. Run with `cargo bench -p roadrunner-h1`.

mod codec_work;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use codec_work::{Answer, INPUTS};

fn bench(c: &mut Criterion) {
    let mut answer = Answer::new();
    let mut group = c.benchmark_group("request-response");
    for (name, request) in INPUTS {
        for n in [1, 16] {
            group.throughput(Throughput::Elements(n as u64));
            let id = format!("{name}/x{n}");
            group.bench_with_input(BenchmarkId::new("roadrunner-h1", &id), &n, |b, &n| {
                b.iter(|| answer.roadrunner(request, n))
            });
            group.bench_with_input(BenchmarkId::new("httparse-floor", &id), &n, |b, &n| {
                b.iter(|| answer.floor(request, n))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
