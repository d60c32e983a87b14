//! Conditions on facts and smoke results that are not text (catalog "probe" rows).
//! Each probe returns the values its rule's templates use; the words are in the TOML.

use crate::facts::{Facts, GpuState, Os};
use crate::smoke::SmokeReport;

use super::OsContext;
use super::rules::Vars;

/// What a probe reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeInput {
    Facts,
    Smoke,
}

/// What a probe may look at besides its input.
pub(crate) struct ProbeEnv<'a> {
    pub ctx: &'a OsContext,
}

type FactsProbe = fn(&Facts, &ProbeEnv<'_>) -> Option<Vars>;
type SmokeProbe = fn(&SmokeReport, &ProbeEnv<'_>) -> Option<Vars>;

#[derive(Clone, Copy)]
pub(crate) enum Eval {
    Facts(FactsProbe),
    Smoke(SmokeProbe),
}

/// A probe: its name in the TOML, the values it always / may provide, and the condition.
pub(crate) struct ProbeDef {
    pub name: &'static str,
    pub input: ProbeInput,
    pub always: &'static [&'static str],
    pub sometimes: &'static [&'static str],
    pub eval: Eval,
}

const fn facts(name: &'static str, always: &'static [&'static str], eval: FactsProbe) -> ProbeDef {
    ProbeDef { name, input: ProbeInput::Facts, always, sometimes: &[], eval: Eval::Facts(eval) }
}

const fn smoke(name: &'static str, always: &'static [&'static str], eval: SmokeProbe) -> ProbeDef {
    ProbeDef { name, input: ProbeInput::Smoke, always, sometimes: &[], eval: Eval::Smoke(eval) }
}

/// Every probe torchup knows. A rule file may use each at most once.
pub(crate) const PROBES: &[ProbeDef] = &[
    facts("facts.version-mismatch", &["detail"], version_mismatch),
    facts("facts.driver-not-loaded", &["detail"], driver_not_loaded),
    facts("facts.tool-missing", &["detail"], tool_missing),
    facts("facts.wsl-no-gpu", &[], wsl_no_gpu),
    facts("facts.pip-index-cpu", &["overrides"], pip_index_cpu),
    facts("facts.python-32bit", &["executable"], python_32bit),
    facts("facts.externally-managed", &["executable"], externally_managed),
    facts("facts.user-site-shadowing", &["packages"], user_site_shadowing),
    facts("facts.cuda-visible-devices", &["value", "reason"], cuda_visible_devices),
    facts("facts.cpu-build", &["version"], facts_cpu_build),
    facts("facts.driver-too-old", &["driver", "driver_cuda", "build_cuda", "build_major", "version"], driver_too_old),
    facts("facts.companion-mismatch", &["package", "companion", "torch", "expected"], companion_mismatch),
    smoke("smoke.cpu-build", &["version"], smoke_cpu_build),
    smoke("smoke.cuda-unavailable", &["version", "cuda"], cuda_unavailable),
    smoke("smoke.wsl-cuda-unavailable", &["version", "cuda"], cuda_unavailable),
    smoke("smoke.arch-missing", &["gpu", "cc", "sm"], arch_missing),
    smoke("smoke.gpu-newer", &["gpu", "cc", "sm", "arch_list"], gpu_newer),
    smoke("smoke.gpu-older", &["gpu", "cc", "sm", "arch_list"], gpu_older),
    // ---- real-wheel failures (issue 12) ----
    ProbeDef {
        name: "smoke.cuda-library-missing",
        input: ProbeInput::Smoke,
        always: &["lib", "family"],
        sometimes: &["torch", "wheel", "pin"],
        eval: Eval::Smoke(cuda_library_missing),
    },
];

pub(crate) fn find(name: &str) -> Option<&'static ProbeDef> {
    PROBES.iter().find(|p| p.name == name)
}

fn vars<const N: usize>(pairs: [(&str, String); N]) -> Vars {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

// ---- facts ------------------------------------------------------------------------------

fn version_mismatch(f: &Facts, _: &ProbeEnv<'_>) -> Option<Vars> {
    match &f.gpu_state {
        GpuState::VersionMismatch { detail } => Some(vars([("detail", detail.clone())])),
        _ => None,
    }
}

fn driver_not_loaded(f: &Facts, _: &ProbeEnv<'_>) -> Option<Vars> {
    match &f.gpu_state {
        GpuState::DriverNotLoaded { detail } => Some(vars([("detail", detail.clone())])),
        _ => None,
    }
}

fn tool_missing(f: &Facts, _: &ProbeEnv<'_>) -> Option<Vars> {
    match &f.gpu_state {
        GpuState::ToolMissing { detail } => Some(vars([("detail", detail.clone())])),
        _ => None,
    }
}

fn wsl_no_gpu(f: &Facts, _: &ProbeEnv<'_>) -> Option<Vars> {
    (f.wsl && f.gpus.is_empty() && f.driver.is_none()).then(Vars::new)
}

fn pip_index_cpu(f: &Facts, _: &ProbeEnv<'_>) -> Option<Vars> {
    let p = f.python.as_ref()?;
    (!p.pip_index_overrides.is_empty()).then(|| vars([("overrides", p.pip_index_overrides.join("; "))]))
}

fn python_32bit(f: &Facts, _: &ProbeEnv<'_>) -> Option<Vars> {
    let p = f.python.as_ref()?;
    (p.bits == 32).then(|| vars([("executable", p.executable.clone())]))
}

fn externally_managed(f: &Facts, _: &ProbeEnv<'_>) -> Option<Vars> {
    let p = f.python.as_ref()?;
    p.externally_managed.then(|| vars([("executable", p.executable.clone())]))
}

fn user_site_shadowing(f: &Facts, _: &ProbeEnv<'_>) -> Option<Vars> {
    let p = f.python.as_ref()?;
    (!p.user_site_shadowing.is_empty()).then(|| vars([("packages", p.user_site_shadowing.join("; "))]))
}

/// CUDA reads the list up to the first invalid entry, so an invalid first entry hides
/// every GPU. UUIDs (`GPU-…`, `MIG-…`) cannot be checked here and are left alone.
fn cuda_visible_devices(f: &Facts, _: &ProbeEnv<'_>) -> Option<Vars> {
    let value = f.python.as_ref()?.cuda_visible_devices.clone()?;
    let first = value.split(',').next().unwrap_or("").trim();
    let reason = if first.is_empty() {
        " (empty: it hides every GPU)".to_string()
    } else if first == "NoDevFiles" {
        " (it hides every GPU)".to_string()
    } else if let Ok(n) = first.parse::<i64>() {
        if n < 0 {
            " (a negative index hides every GPU)".to_string()
        } else if !f.gpus.is_empty() && n >= f.gpus.len() as i64 {
            format!(" (there is no GPU {n}: this machine has {})", f.gpus.len())
        } else {
            return None;
        }
    } else {
        return None;
    };
    Some(vars([("value", value), ("reason", reason)]))
}

fn facts_cpu_build(f: &Facts, _: &ProbeEnv<'_>) -> Option<Vars> {
    let t = f.torch.as_ref()?;
    // Without any sign of an NVIDIA GPU the CPU build is the right one.
    let gpu_present = !f.gpus.is_empty() || f.driver.is_some() || f.gpu_state != GpuState::NoGpu;
    (t.cuda.is_none() && gpu_present).then(|| vars([("version", t.version.clone())]))
}

/// The installed build needs a newer driver, by the one rule (`compat::driver_fit`).
fn driver_too_old(f: &Facts, env: &ProbeEnv<'_>) -> Option<Vars> {
    use crate::compat::driver::DriverVersion;
    use crate::compat::driver_fit::{DriverFit, driver_os, fit_of_texts, highest_major};
    let t = f.torch.as_ref()?;
    let build_cuda = t.cuda.as_ref()?;
    let build_major = crate::version::parse_major_minor(build_cuda)?.0;
    let d = f.driver.as_ref()?;
    // WSL runs on the Windows driver; a context on Windows judges by the Windows table.
    let os = if env.ctx.os == Os::Windows { Os::Windows } else { driver_os(f.os, f.wsl) };
    if fit_of_texts(Some(&d.version), d.cuda.as_deref(), build_cuda, os) != DriverFit::TooOld {
        return None;
    }
    let driver_cuda = match d.cuda.as_deref().filter(|c| crate::version::parse_major_minor(c).is_some()) {
        Some(c) => c.to_string(),
        // No CUDA level reported: the newest major whose floor the version meets.
        None => {
            let data = crate::compat::data::CompatData::bundled().ok()?;
            match highest_major(data, &d.version.parse::<DriverVersion>().ok()?, os) {
                (Some(m), _) => format!("{m}.x"),
                (None, Some(lowest)) => format!("below {lowest}.0"),
                (None, None) => return None,
            }
        }
    };
    Some(vars([
        ("driver", d.version.clone()),
        ("driver_cuda", driver_cuda),
        ("build_cuda", build_cuda.clone()),
        ("build_major", build_major.to_string()),
        ("version", t.version.clone()),
    ]))
}

/// (release numbers, local label) of "2.5.1+cu124".
fn split_version(v: &str) -> (Vec<u32>, Option<&str>) {
    let (public, local) = match v.split_once('+') {
        Some((p, l)) => (p, Some(l)),
        None => (v, None),
    };
    let nums = public.split('.').map_while(|p| p.parse().ok()).collect();
    (nums, local)
}

/// The torchvision and torchaudio release lines (major, minor) that go with a torch
/// release, from the compatibility data's pairs (compat.toml); None for a release the data
/// does not list (or a companion it no longer has, as torchaudio from 2.12 on).
fn companion_lines(torch: &str) -> [Option<(u32, u32)>; 2] {
    let Some(release) = crate::compat::data::CompatData::bundled().ok().and_then(|d| d.release(torch)) else {
        return [None, None];
    };
    let line = |v: &str| {
        let (nums, _) = split_version(v);
        Some((*nums.first()?, *nums.get(1)?))
    };
    [line(&release.torchvision), release.torchaudio.as_deref().and_then(line)]
}

fn companion_mismatch(f: &Facts, _: &ProbeEnv<'_>) -> Option<Vars> {
    let t = f.torch.as_ref()?;
    let (_, tl) = split_version(&t.version);
    let [vision_line, audio_line] = companion_lines(t.version.split('+').next().unwrap_or(&t.version));
    let candidates =
        [("torchvision", t.torchvision.as_deref(), vision_line), ("torchaudio", t.torchaudio.as_deref(), audio_line)];
    for (package, version, want) in candidates {
        let Some(version) = version else { continue };
        let (cv, cl) = split_version(version);
        let label_differs = matches!((tl, cl), (Some(a), Some(b)) if a != b);
        let release_differs = want.is_some_and(|(a, b)| cv.first() != Some(&a) || cv.get(1) != Some(&b));
        if label_differs || release_differs {
            let (want_major, want_minor) = match want {
                Some(w) => (w.0.to_string(), w.1.to_string()),
                None => {
                    let (nums, _) = split_version(version);
                    (
                        nums.first().map(u32::to_string).unwrap_or_default(),
                        nums.get(1).map(u32::to_string).unwrap_or_default(),
                    )
                }
            };
            let label = tl.map(|l| format!("+{l}")).unwrap_or_default();
            return Some(vars([
                ("package", package.to_string()),
                ("companion", version.to_string()),
                ("torch", t.version.clone()),
                ("expected", format!("{want_major}.{want_minor}.x{label}")),
            ]));
        }
    }
    None
}

// ---- smoke ------------------------------------------------------------------------------

fn smoke_cpu_build(r: &SmokeReport, _: &ProbeEnv<'_>) -> Option<Vars> {
    let version = r.torch.version.as_ref()?;
    r.torch.cuda.is_none().then(|| vars([("version", version.clone())]))
}

fn cuda_unavailable(r: &SmokeReport, _: &ProbeEnv<'_>) -> Option<Vars> {
    let cuda = r.torch.cuda.as_ref()?;
    let version = r.torch.version.clone().unwrap_or_else(|| "torch".into());
    (!r.cuda_available).then(|| vars([("version", version), ("cuda", cuda.clone())]))
}

/// A device torch says the build has no kernels for: (name, capability "8.6", sm "86").
fn unsupported_device(r: &SmokeReport) -> Option<(String, Option<(u32, u32)>)> {
    let d = r.devices.iter().find(|d| d.arch_supported == Some(false))?;
    let cap = d.compute_capability.as_deref().and_then(crate::facts::parse_capability);
    Some((d.name.clone(), cap))
}

fn device_vars(name: String, cap: Option<(u32, u32)>) -> Vars {
    let (cc, sm) = match cap {
        Some((a, b)) => (format!("{a}.{b}"), format!("{a}{b}")),
        None => ("unknown".into(), "unknown".into()),
    };
    vars([("gpu", name), ("cc", cc), ("sm", sm)])
}

fn arch_missing(r: &SmokeReport, _: &ProbeEnv<'_>) -> Option<Vars> {
    let (name, cap) = unsupported_device(r)?;
    Some(device_vars(name, cap))
}

/// The build's SASS architectures from the report's `arch_list` (torch's own list, read
/// by the one parser in compat::arch), without the device's own, which is missing by
/// definition.
fn arch_list(r: &SmokeReport, own: (u32, u32)) -> Vec<(u32, u32)> {
    let Some(list) = crate::compat::arch::ArchList::from_torch_names(&r.arch_list) else { return Vec::new() };
    let mut caps: Vec<(u32, u32)> =
        list.entries().iter().map(|e| (e.cap.major, e.cap.minor)).filter(|cap| *cap != own).collect();
    caps.dedup();
    caps
}

fn compare_with_build(r: &SmokeReport, newer: bool) -> Option<Vars> {
    let (name, cap) = unsupported_device(r)?;
    let own = cap?;
    let list = arch_list(r, own);
    let (min, max) = (*list.first()?, *list.last()?);
    let fires = if newer { own > max } else { own < min };
    fires.then(|| {
        let mut v = device_vars(name, cap);
        let shown = list.iter().map(|(a, b)| format!("sm_{a}{b}")).collect::<Vec<_>>().join(" ");
        v.insert("arch_list".into(), shown);
        v
    })
}

fn gpu_newer(r: &SmokeReport, _: &ProbeEnv<'_>) -> Option<Vars> {
    compare_with_build(r, true)
}

fn gpu_older(r: &SmokeReport, _: &ProbeEnv<'_>) -> Option<Vars> {
    compare_with_build(r, false)
}

// ---- real-wheel failures (issue 12) -----------------------------------------------------

/// torch is installed but `import torch` could not load a CUDA library from the `nvidia-*`
/// wheels (Linux): which library, and the wheel torch's `Requires-Dist` says ships it.
fn cuda_library_missing(r: &SmokeReport, _: &ProbeEnv<'_>) -> Option<Vars> {
    if r.torch_importable {
        return None;
    }
    let missing = super::cuda_libs::missing_library(r.import_error.as_deref()?)?;
    let family = missing.family.filter(|_| !missing.windows)?;
    let mut v = vars([("lib", missing.file), ("family", family.wheel.to_string())]);
    if let Some(t) = &r.torch_installed {
        v.insert("torch".into(), t.clone());
    }
    if let Some(w) = super::cuda_libs::wheel_for(&family, &r.torch_requires) {
        v.insert("wheel".into(), w.wheel);
        v.insert("pin".into(), w.pin);
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The companion rule reads compat.toml's pairs: every listed pair is accepted, a
    /// companion from the next release line is flagged.
    #[test]
    fn companions_follow_the_compatibility_data_pairs() {
        let data = crate::compat::data::CompatData::bundled().unwrap();
        let facts = |torch: &str, vision: &str, audio: Option<&str>| Facts {
            torch: Some(crate::facts::TorchFacts {
                version: format!("{torch}+cu124"),
                cuda: Some("12.4".into()),
                torchvision: Some(format!("{vision}+cu124")),
                torchaudio: audio.map(|a| format!("{a}+cu124")),
                ..Default::default()
            }),
            ..Facts::bare_linux()
        };
        let ctx = OsContext::linux();
        let env = ProbeEnv { ctx: &ctx };
        for r in data.releases() {
            let ok = facts(&r.torch, &r.torchvision, r.torchaudio.as_deref());
            assert_eq!(companion_mismatch(&ok, &env), None, "torch {} with its listed companions", r.torch);
            let (nums, _) = split_version(&r.torchvision);
            let next = format!("{}.{}.0", nums[0], nums[1] + 1);
            let bad = facts(&r.torch, &next, r.torchaudio.as_deref());
            let v =
                companion_mismatch(&bad, &env).unwrap_or_else(|| panic!("torch {} with torchvision {next}", r.torch));
            assert_eq!(v.get("package").map(String::as_str), Some("torchvision"));
        }
    }

    #[test]
    fn versions_split_into_release_and_label() {
        assert_eq!(split_version("2.5.1+cu124"), (vec![2, 5, 1], Some("cu124")));
        assert_eq!(split_version("0.20.1"), (vec![0, 20, 1], None));
        assert_eq!(split_version("2.6.0.dev20241112+cpu"), (vec![2, 6, 0], Some("cpu")));
    }

    #[test]
    fn probe_names_are_unique() {
        let mut names: Vec<_> = PROBES.iter().map(|p| p.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
        for p in PROBES {
            let prefix = match p.input {
                ProbeInput::Facts => "facts.",
                ProbeInput::Smoke => "smoke.",
            };
            assert!(p.name.starts_with(prefix), "{}", p.name);
            assert_eq!(matches!(p.eval, Eval::Facts(_)), p.input == ProbeInput::Facts);
        }
    }
}
