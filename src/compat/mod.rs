//! Compatibility data: bundled facts (assets/compat.toml) and what the live index says.

pub mod arch;
pub mod available;
pub mod cache;
pub mod data;
pub(crate) mod driver;
pub(crate) mod driver_fit;
pub mod index;
pub(crate) mod index_url;
pub(crate) mod mirrors;
pub mod platform;
pub mod probe;
pub mod tags;
pub(crate) mod wheel_name;
