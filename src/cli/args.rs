//! clap argument model. Flag names are a contract (docs/contract.md): never rename them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::compat::index_url::IndexUrl;

/// Default PyTorch wheel index.
use crate::compat::index_url::OFFICIAL_INDEX_URL;

#[derive(Debug, Parser)]
#[command(
    name = "torchup",
    version = crate::build_info::VERSION_LINE,
    about = "Move PyTorch from the CPU build to a verified CUDA build",
    long_about = "torchup checks your NVIDIA GPU, driver and Python, picks the PyTorch build that will \
actually run on them, installs it with exact pins from one index, and verifies it with a GPU smoke \
test after every stage. If anything fails, it puts your previous build back.\n\n\
Run with no command in a terminal to open the wizard.",
    after_help = "Examples:\n  torchup                       open the wizard\n  torchup detect                what is on this machine\n  torchup plan                  which build to install, and why\n  torchup install --yes         install it without questions\n  torchup verify                re-check after a driver update\n  torchup explain train.log     the cause and the fix of an error you got"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags every subcommand accepts.
#[derive(Debug, Clone, Args, Default)]
pub struct GlobalArgs {
    /// Target Python interpreter (default: active venv, conda env, the env torchup is installed in, then python on PATH)
    #[arg(long, global = true, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// PyTorch wheel index (a mirror): a simple index whose variants are <URL>/<variant>, a
    /// directory of per-variant wheel listings, or a torch_stable.html page
    #[arg(long, global = true, value_name = "URL", default_value = OFFICIAL_INDEX_URL, value_parser = IndexUrlParser)]
    pub index_url: IndexUrl,
    /// Where the wheels come from: auto (probe the known mirrors, take the fastest that
    /// carries the build), official, nju or aliyun (mirrors in China), pypi (Linux: PyPI's
    /// own CUDA wheels), or a URL
    #[arg(long, global = true, value_name = "auto|official|nju|aliyun|pypi|URL")]
    pub mirror: Option<String>,
    /// Do not contact the index: plan from bundled data and the cache
    #[arg(long, global = true)]
    pub offline: bool,
    /// Write the full log here instead of the state directory
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// No colors (NO_COLOR is respected too)
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Facts about this machine and the target Python
    Detect {
        /// Print one JSON document on stdout
        #[arg(long)]
        json: bool,
    },
    /// Which build to install and why (nothing is changed)
    Plan {
        #[arg(long)]
        json: bool,
        /// Plan for a saved `torchup detect --json` document instead of this machine
        #[arg(long, value_name = "FILE")]
        facts: Option<PathBuf>,
        #[command(flatten)]
        choice: ChoiceArgs,
    },
    /// Install the planned build, verifying after every stage
    Install {
        /// Do not ask; roll back automatically on failure
        #[arg(long)]
        yes: bool,
        /// Show what would run, change nothing
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
        /// Finish an install that was interrupted (its journal): put the previous build back,
        /// then install again from the already fetched files
        #[arg(long)]
        resume: bool,
        /// Wait for another torchup changing this environment instead of stopping
        #[arg(long)]
        wait: bool,
        /// Connections per big file while downloading (ranged segments; 1 = one stream)
        #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=16))]
        connections: u16,
        #[command(flatten)]
        choice: ChoiceArgs,
    },
    /// Put back the build an interrupted install moved aside (from its journal; no network)
    Rollback {
        /// Do not ask
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
        /// Wait for another torchup changing this environment instead of stopping
        #[arg(long)]
        wait: bool,
    },
    /// Print the embedded smoke test that `verify` and every install stage run
    SmokeScript,
    /// Run the GPU smoke test now and compare with the last saved result
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Facts, smoke test and diagnoses: a report to paste into a bug report
    Doctor {
        #[arg(long)]
        json: bool,
    },
    /// Downloaded, verified wheels kept for retries, rollbacks and later runs: list or clean
    Cache {
        #[command(subcommand)]
        action: Option<CacheAction>,
        /// Print one JSON document on stdout
        #[arg(long, global = true)]
        json: bool,
    },
    /// Explain an error: paste it, give a log file, or run a command and explain its failure
    #[command(
        after_help = "Examples:\n  torchup explain train.log          a saved log or traceback\n  torchup explain -                  paste the error, then Ctrl-D (Windows: Ctrl-Z, Enter)\n  torchup explain -- python train.py run it; explain the error if it fails\n\nExit: 0 a known problem was found, 1 none (or the command's own status with `--`), 2 bad input."
    )]
    Explain {
        /// A log or error text; `-` or nothing reads stdin
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        /// Print one JSON document on stdout
        #[arg(long)]
        json: bool,
        /// Fit the fixes to another machine: a saved `torchup detect --json` document
        #[arg(long, value_name = "FILE", conflicts_with = "no_detect")]
        facts: Option<PathBuf>,
        /// Do not look at this machine (fixes are still for this OS)
        #[arg(long)]
        no_detect: bool,
        /// The command to run (after `--`), e.g. `-- python train.py --epochs 3`
        #[arg(last = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// The GPU check through the libtorch torchup was built with (feature `torch`)
    #[cfg(feature = "torch")]
    LibtorchCheck {
        #[arg(long)]
        json: bool,
    },
}

/// `torchup cache` actions (default: list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum CacheAction {
    /// Files in the wheelhouse with sizes, the total and the cap
    List,
    /// Remove files unused for 30 days and partial downloads idle for 7 days
    Clean {
        /// Remove every file and partial download no running torchup is using
        #[arg(long)]
        all: bool,
    },
}

/// The user's choice (plan and install).
#[derive(Debug, Clone, Args, Default)]
pub struct ChoiceArgs {
    /// auto, cpu, or a CUDA variant such as cu118, cu121, cu124, cu126, cu128, cu129, cu130, cu132
    #[arg(long, value_name = "VARIANT", default_value = "auto")]
    pub variant: String,
    /// Exact torch version, e.g. 2.5.1 (default: the newest that runs here)
    #[arg(long, value_name = "VERSION")]
    pub torch: Option<String>,
    /// Keep the installed torch version, change only the build
    #[arg(long, conflicts_with = "torch")]
    pub keep_version: bool,
    /// Package manager that runs the steps
    #[arg(long, value_name = "MANAGER", default_value = "pip", value_parser = ["pip", "uv", "conda"])]
    pub manager: String,
    /// Install this requirements file after torch, without letting it replace the CUDA build
    #[arg(long, value_name = "FILE")]
    pub with_requirements: Option<PathBuf>,
    /// Plan an explicit variant/version even when the checks say it will not run
    #[arg(long)]
    pub force: bool,
}

/// Parses `--index-url` into the engine's [`IndexUrl`]. clap's own error would echo the raw
/// value, credentials included; this one says only the redacted reason.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IndexUrlParser;

impl clap::builder::TypedValueParser for IndexUrlParser {
    type Value = IndexUrl;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<IndexUrl, clap::Error> {
        let raw = value.to_string_lossy();
        IndexUrl::parse(&raw).map_err(|e| {
            clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("--index-url: {e}\n")).with_cmd(cmd)
        })
    }
}
