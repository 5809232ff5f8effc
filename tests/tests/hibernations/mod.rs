//! Records when each `conn.hibernate` trace event was emitted on a simulated runtime,
//! by peer address. Everything runs on the test's thread there, so a scoped subscriber
//! ([`Hibernations::record`]) sees the server's events.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use roadrunner_core::sim::Sim;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// When each `conn.hibernate` trace event was emitted, by peer address.
#[derive(Clone, Default)]
pub struct Hibernations(Arc<Mutex<Vec<(String, Duration)>>>);

struct Recorder {
    sim: Sim,
    seen: Hibernations,
}

#[derive(Default)]
struct HibernateFields {
    is_hibernate: bool,
    peer: Option<String>,
}

impl Visit for HibernateFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "event" {
            self.is_hibernate = value == "conn.hibernate";
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "peer" => self.peer = Some(format!("{value:?}")),
            "event" => self.is_hibernate = format!("{value:?}") == "\"conn.hibernate\"",
            _ => {}
        }
    }
}

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != "roadrunner" {
            return;
        }
        let mut f = HibernateFields::default();
        event.record(&mut f);
        if let (true, Some(peer)) = (f.is_hibernate, f.peer) {
            let at = self.sim.elapsed();
            self.seen.0.lock().unwrap().push((peer, at));
        }
    }
}

impl Hibernations {
    pub fn of(&self, peer: SocketAddr) -> Vec<Duration> {
        let peer = peer.to_string();
        let seen = self.0.lock().unwrap();
        seen.iter()
            .filter(|(p, _)| *p == peer)
            .map(|(_, at)| *at)
            .collect()
    }
}

impl Hibernations {
    /// Records `sim`'s hibernations until the guard is dropped.
    pub fn record(sim: &Sim) -> (Hibernations, tracing::subscriber::DefaultGuard) {
        let seen = Hibernations::default();
        let recorder = Recorder {
            sim: sim.clone(),
            seen: seen.clone(),
        };
        let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder));
        (seen, guard)
    }
}
