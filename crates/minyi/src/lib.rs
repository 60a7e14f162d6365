//! The `minyi` command as a library: the demo city and its seeded history, and the commands the
//! binary dispatches to. `main.rs` only parses arguments and calls into here.

pub mod audit_cmd;
pub mod bench_intake;
pub mod bench_search;
pub mod bench_storage;
pub mod crash_cmd;
pub mod demo;
pub mod engine_cmd;
pub mod kpi_cmd;
