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
//! let mut opts = Options::new(8080, routes);
//! opts.max_clients = 1000;
//! assert!(opts.validate().is_ok());
//! // roadrunner_tokio::start("web", opts) or roadrunner_smol::start("web", opts)
//! ```

#![warn(missing_docs)]

mod accept;
mod bind;
mod body;
mod conn;
mod counters;
mod drain;
mod exchange;
#[cfg(test)]
mod footprint;
mod handler;
mod incoming;
mod listener;
mod loop_handler;
mod middleware;
mod options;
mod panic;
mod registry;
mod request;
mod router;
pub mod runtime;
mod scratch;
#[cfg(unix)]
mod signal;
#[cfg(feature = "sim")]
pub mod sim;
mod tls;
pub mod upgrade;
pub mod websocket;

pub use bind::{bind, Bound};
pub use body::{Body, BoxError, Frame, FrameStream};
pub use counters::Info;
pub use drain::{DrainOutcome, Status};
pub use handler::{status_response, text, BoxFuture, Handler, IntoResponse};
pub use incoming::BodyError;
pub use listener::{Listener, ListenerRef, ReloadError, StartError};
pub use loop_handler::{
    loop_body, Loop, LoopEnded, LoopEvent, Mailbox, TrySendError, MAILBOX_CAPACITY,
};
pub use middleware::{Middleware, Next};
pub use options::{
    BodyBuffering, HandlerSpawn, Http1Options, Http2Options, Http3Options, Options, OptionsError,
    Protocol, WsOptions,
};
pub use request::{Params, Request, RequestContext, RequestExt, Response, State, Trailers};
pub use router::{Endpoint, Route, RouteError, Routes};
#[cfg(unix)]
pub use signal::{shutdown_signal, ShutdownSignal, Signal};

pub use http;
pub use http_body;
pub use rustls;
