//! What the harness (`roadrunner-bench`) and its in-process companion
//! (`roadrunner-bench-inproc`) share: the text the companion reports in.

pub mod inproc_report;
