//! End-to-end tests of the `newsqa` binary: a temp index, the real models, the real CLI.

mod discord;
mod helpers;

mod answerable;
mod ask;
mod bot;
mod chat;
mod crash;
mod eval;
mod feeds;
mod ingest;
mod reading;
mod retriever;
mod web;
