//! What changed between two saved verify results: the answer to "it worked last week,
//! what is different now?" (a driver update, a reinstalled torch, a GPU switched off).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::history::HistoryEntry;
use super::{SmokeReport, check_names};

/// Throughput changes smaller than this fraction are noise (boost clocks, thermals, a busy
/// machine), not news; power modes and a GPU falling back move it by far more.
pub(crate) const THROUGHPUT_NOISE: f64 = 0.20;

/// How a check fared in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    Passed,
    Failed,
    /// The script stopped before it (an earlier check failed).
    NotRun,
}

impl CheckState {
    fn of(report: &SmokeReport, name: &str) -> CheckState {
        match report.check(name) {
            Some(c) if c.ok => CheckState::Passed,
            Some(_) => CheckState::Failed,
            None => CheckState::NotRun,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            CheckState::Passed => "passed",
            CheckState::Failed => "failed",
            CheckState::NotRun => "not run",
        }
    }
}

/// Which side of the throughput measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Gpu,
    Cpu,
}

/// One difference since the previous result. Serialized in `verify --json` as `changes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Change {
    /// The NVIDIA driver (and the CUDA level it supports).
    Driver {
        from: Option<String>,
        to: Option<String>,
        from_cuda: Option<String>,
        to_cuda: Option<String>,
    },
    /// The torch build. `from`/`to` is the installed version even when torch did not
    /// import (`*_imports` false: "installed, does not import", never "none").
    Torch {
        from: Option<String>,
        to: Option<String>,
        from_cuda: Option<String>,
        to_cuda: Option<String>,
        /// Serialized only when false (the usual case keeps the document as it was).
        #[serde(default = "imports_default", skip_serializing_if = "is_true")]
        from_imports: bool,
        #[serde(default = "imports_default", skip_serializing_if = "is_true")]
        to_imports: bool,
    },
    /// The overall verdict.
    Cuda {
        from_ok: bool,
        to_ok: bool,
    },
    /// A check that passed before and failed now, or the other way round.
    Check {
        name: String,
        from: CheckState,
        to: CheckState,
    },
    /// Checks that passed before and were not reached now (an earlier one failed).
    ChecksNotReached {
        names: Vec<String>,
    },
    /// Matmul throughput moved by at least [`THROUGHPUT_NOISE`].
    Throughput {
        side: Side,
        from_gflops: f64,
        to_gflops: f64,
        percent: f64,
    },
    DeviceAdded {
        name: String,
    },
    DeviceRemoved {
        name: String,
    },
    Python {
        from: String,
        to: String,
    },
    Cudnn {
        from: Option<String>,
        to: Option<String>,
    },
}

fn or_none(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("none")
}

fn imports_default() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// A torch version as history shows it: "none" only when torch is not installed at all.
fn torch_label(version: &Option<String>, imports: bool) -> String {
    match version {
        Some(v) if !imports => format!("{v} (installed, does not import)"),
        Some(v) => v.clone(),
        None => "none".into(),
    }
}

/// The torch version a report shows: the imported one, or else the installed distribution's.
fn torch_version(r: &SmokeReport) -> Option<String> {
    r.torch.version.clone().or_else(|| r.torch_installed.clone())
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Driver { from, to, from_cuda, to_cuda } => {
                write!(f, "driver {} → {}", or_none(from), or_none(to))?;
                if from_cuda != to_cuda {
                    write!(f, " (supports CUDA {} → {})", or_none(from_cuda), or_none(to_cuda))?;
                }
                Ok(())
            }
            Change::Torch { from, to, from_cuda, to_cuda, from_imports, to_imports } => {
                write!(f, "torch {} → {}", torch_label(from, *from_imports), torch_label(to, *to_imports))?;
                let both_import = *from_imports && *to_imports;
                if both_import && (from == to || (from_cuda != to_cuda && !from.as_deref().unwrap_or("").contains('+')))
                {
                    write!(f, " (CUDA {} → {})", or_none(from_cuda), or_none(to_cuda))?;
                }
                Ok(())
            }
            Change::Cuda { from_ok, to_ok } => {
                let word = |ok: &bool| if *ok { "ok" } else { "failing" };
                write!(f, "CUDA {} → {}", word(from_ok), word(to_ok))
            }
            Change::Check { name, from, to } => write!(f, "check {name}: {} → {}", from.as_str(), to.as_str()),
            Change::Throughput { side, from_gflops, to_gflops, percent } => {
                let side = if *side == Side::Gpu { "GPU" } else { "CPU" };
                write!(f, "{side} matmul throughput {from_gflops:.0} → {to_gflops:.0} GFLOP/s ({percent:+.0}%)")
            }
            Change::ChecksNotReached { names } => write!(f, "checks no longer reached: {}", names.join(", ")),
            Change::DeviceAdded { name } => write!(f, "GPU added: {name}"),
            Change::DeviceRemoved { name } => write!(f, "GPU gone: {name}"),
            Change::Python { from, to } => write!(f, "Python {from} → {to}"),
            Change::Cudnn { from, to } => write!(f, "cuDNN {} → {}", or_none(from), or_none(to)),
        }
    }
}

/// Everything that differs between `previous` and `current`, most important first.
pub fn compare(previous: &HistoryEntry, current: &HistoryEntry) -> Vec<Change> {
    let (p, c) = (&previous.report, &current.report);
    let mut out = Vec::new();

    let (pd, cd) = (previous.driver.as_ref(), current.driver.as_ref());
    let (p_ver, c_ver) = (pd.map(|d| d.version.clone()), cd.map(|d| d.version.clone()));
    let (p_cuda, c_cuda) = (pd.and_then(|d| d.cuda.clone()), cd.and_then(|d| d.cuda.clone()));
    if p_ver != c_ver || p_cuda != c_cuda {
        out.push(Change::Driver { from: p_ver, to: c_ver, from_cuda: p_cuda, to_cuda: c_cuda });
    }

    let (p_torch, c_torch) = (torch_version(p), torch_version(c));
    let (p_imports, c_imports) = (p.torch_importable || p_torch.is_none(), c.torch_importable || c_torch.is_none());
    if p.torch != c.torch || p_torch != c_torch || p_imports != c_imports {
        out.push(Change::Torch {
            from: p_torch,
            to: c_torch,
            from_cuda: p.torch.cuda.clone(),
            to_cuda: c.torch.cuda.clone(),
            from_imports: p_imports,
            to_imports: c_imports,
        });
    }

    if p.ok != c.ok {
        out.push(Change::Cuda { from_ok: p.ok, to_ok: c.ok });
    }

    let mut names: Vec<&str> = check_names::ALL.to_vec();
    for extra in p.checks.iter().chain(&c.checks).map(|ch| ch.name.as_str()) {
        if !names.contains(&extra) {
            names.push(extra);
        }
    }
    let mut not_reached = Vec::new();
    for name in names {
        let (from, to) = (CheckState::of(p, name), CheckState::of(c, name));
        match (from, to) {
            _ if from == to => {}
            (CheckState::Passed, CheckState::NotRun) => not_reached.push(name.to_string()),
            // "failed → not run" and the reverse say nothing new: the chain stopped earlier.
            (CheckState::Failed, CheckState::NotRun) | (CheckState::NotRun, CheckState::Failed) => {}
            _ => out.push(Change::Check { name: name.to_string(), from, to }),
        }
    }
    if !not_reached.is_empty() {
        out.push(Change::ChecksNotReached { names: not_reached });
    }

    for (side, from, to) in [(Side::Gpu, p.gpu_gflops, c.gpu_gflops), (Side::Cpu, p.cpu_gflops, c.cpu_gflops)] {
        if let (Some(from), Some(to)) = (from, to)
            && from > 0.0
        {
            let change = (to - from) / from;
            if change.abs() >= THROUGHPUT_NOISE {
                out.push(Change::Throughput { side, from_gflops: from, to_gflops: to, percent: change * 100.0 });
            }
        }
    }

    // Only when both runs got as far as listing devices: unreached is unknown, not "gone".
    let listed = |r: &SmokeReport| r.check(check_names::DEVICES).is_some();
    if listed(p) && listed(c) {
        out.extend(device_changes(p, c));
    }

    let version = |r: &SmokeReport| r.python.as_ref().map(|p| p.version.clone()).filter(|v| !v.is_empty());
    if let (Some(a), Some(b)) = (version(p), version(c))
        && a != b
    {
        out.push(Change::Python { from: a, to: b });
    }
    if p.cudnn != c.cudnn && p.cudnn.is_some() && c.cudnn.is_some() {
        out.push(Change::Cudnn { from: p.cudnn.clone(), to: c.cudnn.clone() });
    }
    out
}

/// Devices as multisets of names (two identical cards are two devices).
fn device_changes(p: &SmokeReport, c: &SmokeReport) -> Vec<Change> {
    let mut out = Vec::new();
    let mut before: Vec<&str> = p.devices.iter().map(|d| d.name.as_str()).collect();
    for d in &c.devices {
        match before.iter().position(|n| *n == d.name) {
            Some(i) => {
                before.remove(i);
            }
            None => out.push(Change::DeviceAdded { name: d.name.clone() }),
        }
    }
    out.extend(before.into_iter().map(|n| Change::DeviceRemoved { name: n.to_string() }));
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use jiff::Timestamp;

    use super::*;
    use crate::facts::Driver;
    use crate::smoke::test_support::report;
    use crate::smoke::{Check, Device, SmokeReport, TorchInfo};

    fn entry(driver: Option<&str>, r: SmokeReport) -> HistoryEntry {
        let driver = driver.map(|v| Driver {
            version: v.into(),
            cuda: Some(if v.starts_with("59") { "13.1" } else { "13.0" }.into()),
            source: None,
        });
        HistoryEntry::new(Timestamp::UNIX_EPOCH, Path::new("python"), driver, r)
    }

    fn gpu(name: &str) -> Device {
        Device {
            name: name.into(),
            memory_mib: Some(4096),
            compute_capability: Some("8.6".into()),
            arch_supported: Some(true),
        }
    }

    #[test]
    fn identical_results_have_no_changes() {
        let mut r = report("2.5.1+cu124", true);
        r.gpu_gflops = Some(4000.0);
        r.devices = vec![gpu("RTX 3050")];
        assert_eq!(compare(&entry(Some("581.29"), r.clone()), &entry(Some("581.29"), r)), vec![]);
    }

    #[test]
    fn driver_torch_and_status_changes_are_named() {
        let before = entry(Some("581.29"), report("2.5.1+cu124", true));
        let mut now = report("2.9.1+cu130", false);
        now.torch.cuda = Some("13.0".into());
        let changes = compare(&before, &entry(Some("590.10"), now));
        let text: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            text,
            vec![
                "driver 581.29 → 590.10 (supports CUDA 13.0 → 13.1)",
                "torch 2.5.1+cu124 → 2.9.1+cu130",
                "CUDA ok → failing",
                "check matmul: passed → failed",
            ]
        );
    }

    #[test]
    fn a_vanished_driver_is_reported_and_unreached_devices_are_not_gone() {
        let mut a = report("2.5.1+cu124", true);
        a.devices = vec![gpu("NVIDIA GeForce RTX 3050 Laptop GPU")];
        a.checks.insert(0, Check { name: "devices".into(), ok: true, detail: String::new(), ms: 0.0 });
        let mut b = report("2.5.1+cu124", false);
        b.checks = vec![Check { name: "cuda_available".into(), ok: false, detail: String::new(), ms: 0.0 }];
        let changes = compare(&entry(Some("581.29"), a), &entry(None, b));
        let text: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            text,
            [
                "driver 581.29 → none (supports CUDA 13.0 → none)",
                "CUDA ok → failing",
                "checks no longer reached: devices, matmul",
            ],
            "no 'GPU gone': torch never got to list devices"
        );
    }

    #[test]
    fn same_version_different_cuda_names_the_cuda_runtime() {
        let a = report("2.5.1", true);
        let mut b = report("2.5.1", true);
        b.torch.cuda = None;
        let text = compare(&entry(None, a), &entry(None, b))[0].to_string();
        assert_eq!(text, "torch 2.5.1 → 2.5.1 (CUDA 12.4 → none)");
    }

    #[test]
    fn an_installed_torch_that_does_not_import_is_not_none() {
        let before = report("2.5.1+cu124", true);
        let mut broken = report("unused", false);
        broken.torch = TorchInfo::default();
        broken.torch_importable = false;
        broken.torch_installed = Some("2.5.1+cu124".into());
        broken.import_error = Some("ImportError: libcudnn.so.9: cannot open shared object file".into());
        broken.checks = vec![Check { name: "import_torch".into(), ok: false, detail: String::new(), ms: 1.0 }];
        let text: Vec<String> =
            compare(&entry(None, before.clone()), &entry(None, broken.clone())).iter().map(|c| c.to_string()).collect();
        assert_eq!(text[0], "torch 2.5.1+cu124 → 2.5.1+cu124 (installed, does not import)");
        let json =
            serde_json::to_value(&compare(&entry(None, before.clone()), &entry(None, broken.clone()))[0]).unwrap();
        assert_eq!((json["to"].as_str(), json["to_imports"].as_bool()), (Some("2.5.1+cu124"), Some(false)));
        assert!(json.get("from_imports").is_none(), "only the unusual state is serialized: {json}");
        let text: Vec<String> = compare(&entry(None, broken.clone()), &entry(None, report("2.5.1+cu124", true)))
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(text[0], "torch 2.5.1+cu124 (installed, does not import) → 2.5.1+cu124");
        // Not installed at all is still "none".
        broken.torch_installed = None;
        let text = compare(&entry(None, report("2.5.1+cu124", true)), &entry(None, broken))[0].to_string();
        assert_eq!(text, "torch 2.5.1+cu124 → none");
    }

    #[test]
    fn throughput_moves_beyond_noise_only() {
        let mut a = report("2.5.1+cu124", true);
        a.gpu_gflops = Some(4000.0);
        a.cpu_gflops = Some(300.0);
        let mut b = a.clone();
        b.gpu_gflops = Some(3000.0);
        b.cpu_gflops = Some(310.0);
        let changes = compare(&entry(None, a), &entry(None, b));
        assert_eq!(
            changes,
            vec![Change::Throughput { side: Side::Gpu, from_gflops: 4000.0, to_gflops: 3000.0, percent: -25.0 }]
        );
        assert_eq!(changes[0].to_string(), "GPU matmul throughput 4000 → 3000 GFLOP/s (-25%)");
    }

    #[test]
    fn identical_gpus_count_as_two() {
        let mut a = report("2.5.1+cu124", true);
        a.devices = vec![gpu("RTX 3090"), gpu("RTX 3090")];
        a.checks.insert(0, Check { name: "devices".into(), ok: true, detail: String::new(), ms: 0.0 });
        let mut b = a.clone();
        b.devices.pop();
        assert_eq!(compare(&entry(None, a), &entry(None, b)), vec![Change::DeviceRemoved { name: "RTX 3090".into() }]);
    }

    #[test]
    fn changes_serialize_with_a_kind_tag() {
        let v = serde_json::to_value(Change::Cuda { from_ok: true, to_ok: false }).unwrap();
        assert_eq!(v, serde_json::json!({"what": "cuda", "from_ok": true, "to_ok": false}));
    }
}
