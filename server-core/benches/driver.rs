//! The whole user-space path of a request — codec, HTTP/1 driver, routing, handler,
//! response — with the kernel taken out: a connection driven through the public
//! runtime traits over an in-memory stream. Run with `cargo bench -p roadrunner-core`.

mod in_memory;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("driver");
    for (name, pipelined) in [("keep-alive", 1), ("pipelined-16", 16)] {
        let mut conn = in_memory::Conn::new(name, pipelined);
        group.throughput(Throughput::Elements(conn.pipelined));
        group.bench_function(name, |b| {
            // Each poll reads one batch, answers it, and stops at the next read.
            b.iter(|| conn.run(1))
        });
        assert!(conn.served() > 0, "the connection answered");
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
