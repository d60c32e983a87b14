//! The shared test kit: every integration test includes it with `mod support;`.
//!
//! - [`env::Isolated`]: a temp HOME/state/cache and the variable changes that isolate a child.
//! - [`python`]: the machine's base Python and real venvs (`make_venv`).
//! - [`wheels`]: real wheels of a fake torch family (torch, torchvision, torchaudio, xformers).
//! - [`index::IndexServer`]: a local PEP 503 index shaped like download.pytorch.org/whl.
//! - [`faults::FileServer`]: a file server with Range and injected faults (downloads).
//! - [`mirror::MirrorServer`]: mirrors of every layout, and broken ones (`auto` probes).
//! - [`http`]: the HTTP/1.1 core under those three servers (accept loop, request log, Range,
//!   throttled and cut bodies, fault rules); each server only maps a path to content.
//! - [`gpu::FakeGpu`]: the simulated machine the fake torch reads from TORCHUP_FAKE_GPU.
//! - [`proc`]: run a child with a time limit.
//!
//! How it fits together and what it costs: docs/testing.md.

// Each test binary uses a different part of the kit.
#![allow(dead_code)]

pub mod env;
pub mod faults;
pub mod gpu;
pub mod http;
pub mod index;
pub mod laptop;
pub mod mirror;
pub mod proc;
pub mod python;
pub mod wheels;
