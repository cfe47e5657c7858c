//! End-to-end tests of the `newsqa` binary: a temp index, the real models, the real CLI.

mod helpers;

mod ask;
mod eval;
mod ingest;
