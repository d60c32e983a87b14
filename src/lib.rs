//! torchup: move a laptop's PyTorch from the CPU build to a verified CUDA build.
//!
//! Data flows one way (docs/architecture.md): [`facts`] → [`plan`] (with [`compat`] data) →
//! [`install`] (through [`exec`]) → [`smoke`] results and [`diagnose`] findings →
//! a front end ([`cli`] or [`tui`]). The engine knows nothing about the UI.

#![warn(unreachable_pub)]

pub mod build_info;
pub mod cli;
pub mod compat;
pub mod controller;
pub(crate) mod describe;
pub mod diagnose;
pub mod exec;
pub mod explain;
pub mod facts;
pub mod fetch;
pub mod finding;
pub mod install;
pub mod paths;
pub mod plan;
pub mod preflight;
pub(crate) mod redact;
pub mod session;
pub mod shell;
pub mod smoke;
pub mod tui;
pub(crate) mod version;
