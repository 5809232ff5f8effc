//! The runtime-neutral core of roadrunner: listener options, routing, middleware,
//! limits, counters and the connection drivers.
//!
//! It reaches an async runtime only through the traits of [`runtime`], which the
//! adapters (`roadrunner-tokio`, `roadrunner-smol`) implement in a few dozen lines
//! each; the acceptor pool, the drivers and every limit live here, once.
//!
//! ```
//! use roadrunner_core::{Options, Request, RequestExt, Route, Routes};
//!
//! async fn hello(req: Request) -> String {
//!     format!("Hello, {}!", req.param("name").unwrap_or("world"))
//! }
//!
//! let routes = Routes::list([Route::get("/hello/:name", hello)]);
//! let mut opts = Options::new(8080, routes); // every interface: 0.0.0.0
//! opts.ip = std::net::Ipv4Addr::LOCALHOST.into(); // this machine only
//! opts.max_clients = 1000;
//! assert!(opts.validate().is_ok());
//! // roadrunner_tokio::start("web", opts) or roadrunner_smol::start("web", opts)
//! ```
//!
//! Cargo features: `json` (`Json` bodies, on serde) and `self-signed`
//! (`tls_config::self_signed`, a certificate made at start for development), also
//! features of both adapters, which pass them on; and, for tests, `sim` (a simulated
//! runtime).

#![warn(missing_docs)]

mod accept;
mod bind;
mod body;
mod completion;
mod conn;
mod counters;
mod drain;
mod exchange;
#[cfg(test)]
mod footprint;
mod handler;
mod incoming;
#[cfg(feature = "json")]
mod json;
mod listener;
mod loop_handler;
mod middleware;
mod options;
mod panic;
mod query;
mod registry;
mod request;
mod router;
pub mod runtime;
mod scratch;
#[cfg(unix)]
mod signal;
#[cfg(feature = "sim")]
pub mod sim;
mod state;
mod tls;
pub mod tls_config;
pub mod upgrade;
pub mod websocket;

pub use bind::{bind, Bound};
pub use body::{Body, BoxError, Frame, FrameStream};
pub use completion::{on_complete, Completion};
pub use counters::Info;
pub use drain::{DrainOutcome, Status};
pub use handler::{status_response, text, BoxFuture, Handler, IntoHeaders, IntoResponse};
pub use incoming::BodyError;
#[cfg(feature = "json")]
pub use json::{Json, JsonRejection};
pub use listener::{Listener, ListenerRef, ReloadError, StartError};
pub use loop_handler::{
    loop_body, Loop, LoopEnded, LoopEvent, Mailbox, TrySendError, MAILBOX_CAPACITY,
};
pub use middleware::{Middleware, Middlewares, Next};
pub use options::{
    BodyBuffering, HandlerSpawn, Http1Options, Http2Options, Http3Options, Options, OptionsError,
    Protocol, WsOptions,
};
pub use query::QueryPairs;
pub use request::{Params, Request, RequestContext, RequestExt, Response, Trailers};
pub use router::{Endpoint, Route, RouteError, Routes};
#[cfg(unix)]
pub use signal::{shutdown_signal, ShutdownSignal, Signal};
pub use state::{MissingState, State, StateMap};

// The types of this API come from these crates; re-exported so that a user needs no
// dependency of their own on them, and versions always match.
pub use bytes;
pub use futures_lite::stream::{self, Stream};
pub use http;
pub use http_body;
pub use rustls;
#[cfg(feature = "json")]
pub use serde_json;
