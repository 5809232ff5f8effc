//! State handlers share: one value on a route (or single handler), and listener-wide
//! values of any number of types, all read through
//! [`RequestExt::state`](crate::RequestExt::state).

use std::any::{type_name, Any};
use std::fmt;
use std::sync::Arc;

use http::StatusCode;

use crate::handler::{status_response, IntoResponse};
use crate::request::Response;

/// Handler state: any shareable value.
pub type State = Arc<dyn Any + Send + Sync>;

/// A state value with the name of its type, for the error a lookup of another type
/// gets.
#[derive(Clone)]
pub(crate) struct StateRef {
    value: State,
    type_name: &'static str,
}

impl StateRef {
    pub(crate) fn new<T: Any + Send + Sync>(value: T) -> Self {
        StateRef {
            value: Arc::new(value),
            type_name: type_name::<T>(),
        }
    }

    pub(crate) fn get<T: Any>(&self) -> Option<&T> {
        self.value.downcast_ref()
    }
}

impl fmt::Debug for StateRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name)
    }
}

/// Listener-wide state: at most one value of each type, set before start in
/// [`Options::state`](crate::Options::state) and read by every handler and middleware
/// with [`RequestExt::state`](crate::RequestExt::state).
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use roadrunner_core::{MissingState, Options, Request, RequestExt, Routes};
///
/// struct Hits(AtomicU64);
///
/// async fn count(req: Request) -> Result<String, MissingState> {
///     let hits = req.state::<Hits>()?;
///     Ok(format!("{}", hits.0.fetch_add(1, Ordering::Relaxed) + 1))
/// }
///
/// let mut opts = Options::new(0, Routes::handler(count));
/// opts.state.insert(Hits(AtomicU64::new(0)));
/// assert!(opts.state.get::<Hits>().is_some());
/// ```
#[derive(Clone, Default)]
pub struct StateMap(Vec<StateRef>);

impl StateMap {
    /// Sets the value of type `T`, replacing the one set before.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) {
        let value = StateRef::new(value);
        match self.0.iter_mut().find(|s| s.get::<T>().is_some()) {
            Some(slot) => *slot = value,
            None => self.0.push(value),
        }
    }

    /// The value of type `T`.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.0.iter().find_map(StateRef::get)
    }
}

impl fmt::Debug for StateMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(&self.0).finish()
    }
}

/// A state lookup found no value of the type asked for. It names that type and the
/// types that are set, so a mix-up (`Arc<Db>` set, `Db` asked for) shows at once. As
/// a response it is a `500` (the names stay in the server's log, out of the answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingState {
    /// The type asked for.
    pub wanted: &'static str,
    /// The type of the route's (or single handler's) own state, if it has one.
    pub route: Option<&'static str>,
    /// The types of the listener-wide state.
    pub listener: Vec<&'static str>,
}

impl MissingState {
    pub(crate) fn new<T>(route: Option<&StateRef>, listener: Option<&StateMap>) -> Self {
        MissingState {
            wanted: type_name::<T>(),
            route: route.map(|s| s.type_name),
            listener: listener.map_or_else(Vec::new, |m| m.0.iter().map(|s| s.type_name).collect()),
        }
    }
}

impl fmt::Display for MissingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no state of type `{}` for this request (", self.wanted)?;
        match self.route {
            Some(route) => write!(f, "the route's state is a `{route}`")?,
            None => f.write_str("the route has no state")?,
        }
        match self.listener.as_slice() {
            [] => f.write_str("; the listener has none")?,
            types => write!(f, "; the listener's are `{}`", types.join("`, `"))?,
        }
        f.write_str("): set it with `Route::state` or `opts.state.insert`")
    }
}

impl std::error::Error for MissingState {}

impl IntoResponse for MissingState {
    fn into_response(self) -> Response {
        tracing::error!(target: "roadrunner", event = "response.error", error = %self);
        status_response(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Db(u8);

    #[test]
    fn one_value_per_type_the_last_set_wins() {
        let mut map = StateMap::default();
        map.insert(Db(1));
        map.insert(7u32);
        map.insert(Db(2));
        assert_eq!(map.get::<Db>(), Some(&Db(2)));
        assert_eq!(map.get::<u32>(), Some(&7));
        assert_eq!(map.get::<Arc<Db>>(), None);
    }

    #[test]
    fn a_miss_names_what_was_asked_for_and_what_is_set() {
        let mut map = StateMap::default();
        map.insert(7u32);
        let route = StateRef::new(Db(1));
        let miss = MissingState::new::<Arc<Db>>(Some(&route), Some(&map));
        let text = miss.to_string();
        assert!(text.contains("`alloc::sync::Arc<"), "{text}");
        assert!(text.contains("the route's state is a `"), "{text}");
        assert!(text.contains("::Db`"), "{text}");
        assert!(text.contains("the listener's are `u32`"), "{text}");
        assert_eq!(
            miss.into_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
