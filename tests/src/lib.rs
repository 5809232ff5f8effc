//! Shared helpers of the cross-crate integration tests in `tests/`.
//!
//! * [`Server`] starts a listener on either adapter ([`Adapter`]), bound to 127.0.0.1 on
//!   port 0, and stops it when dropped. [`both!`] turns one test body into a test per
//!   adapter (`name::tokio` and `name::smol`).
//! * Clients: [`Hyper`] (the hyper 1.x client, for well-formed traffic), [`Raw`] (a
//!   plain `std::net::TcpStream`, for malformed input and exact bytes) and [`curl`].
//! * [`wait_until`] polls a condition with a bounded deadline (never a fixed sleep used
//!   to synchronise).

/// The README's examples, compiled (and run where they do not serve forever) as
/// doctests so they cannot drift from the API.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeExamples;

mod curl;
mod demo;
mod handlers;
mod hyper_client;
mod raw;
mod server;

pub use curl::*;
pub use demo::*;
pub use handlers::*;
pub use hyper_client::*;
pub use raw::*;
pub use server::*;
