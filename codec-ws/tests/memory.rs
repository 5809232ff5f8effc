//! What a hostile peer can make a session allocate, measured with a counting
//! allocator. One test, so no other test's allocations share the count.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use common::*;
use roadrunner_ws::{Config, DeflateParams, ErrorKind, Session};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            let now = LIVE.fetch_add(new_size, Relaxed) + new_size;
            PEAK.fetch_max(now, Relaxed);
            LIVE.fetch_sub(layout.size(), Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns the most memory it held at once above what was live before.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    f();
    PEAK.load(Relaxed) - base
}

#[test]
fn hostile_input_costs_bounded_memory() {
    // A deflate bomb: a few KB on the wire, 64 MiB inflated, against a 1 MiB cap.
    let cap = 1 << 20;
    let bomb = ClientDeflate::new(false).compress(&vec![0; 64 << 20]);
    assert!(bomb.len() < 100 << 10, "{}", bomb.len());
    let wire = frame(true, true, BINARY, &bomb, KEY);
    let peak = peak_during(|| {
        let mut s = Session::new(
            Config::new(cap, cap).unwrap(),
            Some(DeflateParams::default()),
        );
        s.recv(&wire);
        assert_eq!(events(&mut s).1.unwrap().kind(), ErrorKind::MessageTooLarge);
        assert_closed_with(&mut s, 1009);
    });
    // The cap, plus half of it while the message buffer moves as it grows (a realloc
    // holds both blocks), the input, the inflater's window and chunk, and change.
    let bound = cap * 3 / 2 + wire.len() + (128 << 10);
    assert!(peak < bound, "peak {peak} over {bound}");

    // A header declaring 2^40 bytes allocates nothing for its payload.
    let mut header = vec![0x82, 0xff];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    header.extend_from_slice(&KEY);
    let peak = peak_during(|| {
        let mut s = Session::new(Config::default(), None);
        s.recv(&header);
        assert_eq!(events(&mut s).1.unwrap().kind(), ErrorKind::FrameTooLarge);
    });
    assert!(peak < 4096, "peak {peak}");

    // Fragments of a message over the cap: stopped at the crossing header, with the
    // message buffer never above the cap.
    let mut wire = Vec::new();
    for _ in 0..20 {
        wire.extend(frame(false, false, TEXT, &[b'a'; 60_000], KEY));
    }
    let peak = peak_during(|| {
        let mut s = Session::new(Config::new(100_000, cap).unwrap(), None);
        for chunk in wire.chunks(16 << 10) {
            s.recv(chunk);
            if events(&mut s).1.is_some() {
                break;
            }
        }
        assert!(s.error().is_some());
    });
    assert!(peak < cap * 3 / 2 + (200 << 10), "peak {peak}");
}
