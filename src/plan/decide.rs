//! The decision: which offer to install (auto, explicit, keep-version, forced), the planned
//! fallback, "nothing to do", and the hints that say what would unlock a better build.
//!
//! Ranking (documented in docs/planner.md): the newest torch first; within one torch, data
//! that is confirmed, then native code for every GPU (no PTX JIT), then a driver that also
//! meets the variant's full-feature driver, then the highest CUDA.

use std::str::FromStr;

use pep440_rs::Version;

use super::catalog::{AudioPin, Offer};
use super::check::{Assume, Verdict, evaluate};
use super::intent::{Intent, TorchFrom};
use super::machine::{DriverState, Machine, PythonProblem};
use crate::compat::data::{CompatData, CudaVersion};
use crate::compat::driver::DriverVersion;
use crate::compat::platform::{PyVersion, WheelPlatform};
use crate::facts::{Facts, GpuState, Os};

/// An offer with its verdict on this machine.
#[derive(Debug, Clone)]
pub(crate) struct Evaluated<'d> {
    pub offer: Offer<'d>,
    pub verdict: Verdict,
}

/// What was decided; indices point into the evaluated list.
#[derive(Debug, Clone, Default)]
pub(crate) struct Decision {
    pub chosen: Option<usize>,
    pub forced: bool,
    pub fallback: Option<usize>,
    pub refused: Option<String>,
    pub nothing_to_do: bool,
    pub explanation: String,
    pub warnings: Vec<String>,
}

type RankKey = (bool, Version, bool, bool, bool, Option<CudaVersion>);

/// The preference order among valid offers (greater is better). An offer resting on what
/// only the index suggested (a release or variant the data does not know, a borrowed arch
/// list) never outranks one the data knows.
pub(crate) fn rank(e: &Evaluated<'_>) -> RankKey {
    (
        !e.offer.assumed(),
        e.offer.version.clone(),
        !e.offer.unconfirmed(),
        e.verdict.native,
        e.verdict.full_met,
        e.offer.cuda,
    )
}

fn better(a: &Evaluated<'_>, b: &Evaluated<'_>) -> bool {
    (&a.offer.version, a.offer.cuda) > (&b.offer.version, b.offer.cuda)
}

/// Whether an offer is what the request names.
pub(crate) fn matches(w: &Intent, o: &Offer<'_>) -> bool {
    let variant_ok = match &w.variant {
        Some(v) => &o.variant == v,
        None => o.variant != "cpu",
    };
    variant_ok && w.torch.as_ref().is_none_or(|(sel, _)| sel.matches(&o.version))
}

fn best<'a, 'd>(ev: &'a [Evaluated<'d>], pred: impl Fn(&Evaluated<'d>) -> bool) -> Option<usize> {
    ev.iter().enumerate().filter(|(_, e)| pred(e)).max_by_key(|(_, e)| rank(e)).map(|(i, _)| i)
}

/// Decide on a normalized request.
pub(crate) fn decide<'d>(
    facts: &Facts,
    w: &Intent,
    data: &'d CompatData,
    m: &Machine,
    ev: &[Evaluated<'d>],
) -> Decision {
    let mut d = Decision::default();
    let installed = installed_offer(facts, ev);

    // Nothing to do: the installed CUDA build already runs here and is what was asked for.
    if let Some(i) = installed
        && ev[i].verdict.runs_here()
        && ev[i].offer.cuda.is_some()
        && (w.is_auto() || matches(w, &ev[i].offer))
    {
        let newest = best(ev, |e| e.verdict.ok() && matches(w, &e.offer));
        let newer = newest.filter(|&n| better(&ev[n], &ev[i]));
        if let Some(mismatch) = companion_mismatch(facts, &ev[i].offer) {
            d.chosen = Some(i);
            d.explanation = format!("{mismatch}: reinstalling the matched set {}", family_label(&ev[i].offer));
        } else {
            d.nothing_to_do = true;
            d.explanation = format!("torch {} already runs here: {}", ev[i].offer.label(), machine_line(m, &ev[i]));
            if let Some(n) = newer {
                d.explanation.push_str(&format!(
                    "; a newer build exists: torch {} (torchup plan --torch {})",
                    ev[n].offer.label(),
                    ev[n].offer.torch
                ));
            }
            env_warnings(facts, m, &mut d.warnings);
            return d;
        }
    } else if let (Some(i), Some(t)) = (installed, &facts.torch)
        && t.cuda.is_some()
        && !ev[i].verdict.runs_here()
    {
        let why: Vec<String> = failing(&ev[i].verdict);
        d.warnings.push(format!("the installed torch {} cannot run here: {}", ev[i].offer.label(), why.join("; ")));
    } else if let Some(t) = facts.torch.as_ref().filter(|t| t.cuda.is_some() && installed.is_none()) {
        d.warnings.push(format!(
            "the installed torch {} (CUDA {}) is a build torchup has no data for: run `torchup verify` to test it before replacing it",
            t.version,
            t.cuda.as_deref().unwrap_or("?")
        ));
    }

    if d.chosen.is_none() {
        // With torchvision installed, a torch whose torchvision the index lacks would leave a
        // broken pair: prefer the newest build whose family is complete.
        let needs_family = facts.torch.as_ref().is_some_and(|t| t.torchvision.is_some());
        let chosen =
            best(ev, |e| e.verdict.ok() && matches(w, &e.offer) && !(needs_family && e.offer.family_gap.is_some()))
                .or_else(|| best(ev, |e| e.verdict.ok() && matches(w, &e.offer)));
        match chosen {
            Some(c) => {
                d.chosen = Some(c);
                d.explanation = explain_choice(w, m, &ev[c], false);
            }
            None if !w.is_auto() => refuse_or_force(w, data, m, ev, &mut d),
            None => d.explanation = "no CUDA build of PyTorch can run on this machine".into(),
        }
    }

    if let Some(c) = d.chosen {
        d.fallback = fallback(w, ev, c);
        if ev[c].offer.unconfirmed() || ev[c].verdict.unknown_fact() {
            let what = ev[c]
                .offer
                .assumptions
                .first()
                .map(|a| a.text.clone())
                .or_else(|| ev[c].verdict.notes.iter().find(|n| n.starts_with("unconfirmed")).cloned())
                .or_else(|| {
                    let v = &ev[c].verdict;
                    [&v.arch, &v.driver].into_iter().find(|x| x.unknown_fact).map(|x| x.reason.clone())
                })
                .unwrap_or_else(|| "a check could not be made".into());
            let fb =
                d.fallback.map(|f| format!("; planned fallback: torch {}", ev[f].offer.label())).unwrap_or_default();
            d.warnings.push(format!("torch {} rests on unconfirmed data ({what}){fb}", ev[c].offer.label()));
            d.explanation.push_str(" (rests on unconfirmed data)");
        }
    }

    let headline = no_choice_warnings(facts, w, data, m, ev, &mut d);
    let hints = unlock_hints(w, data, m, ev, &d);
    if d.chosen.is_none() && !d.nothing_to_do && d.refused.is_none() && !headline {
        d.explanation = match hints.first() {
            Some(h) => format!("no CUDA build can run here: {h}"),
            None => "no CUDA build can run here".into(),
        };
    }
    d.warnings.extend(hints);
    env_warnings(facts, m, &mut d.warnings);
    d
}

/// The evaluated offer of the installed torch (version without label, variant from
/// `torch.version.cuda`).
pub(crate) fn installed_offer(facts: &Facts, ev: &[Evaluated<'_>]) -> Option<usize> {
    let t = facts.torch.as_ref()?;
    let v = Version::from_str(t.version.trim()).ok()?.without_local();
    let variant = t.variant();
    ev.iter().position(|e| e.offer.version == v && e.offer.variant == variant)
}

/// "torchvision 0.20.1+cpu does not match torch 2.5.1+cu124", or None.
fn companion_mismatch(facts: &Facts, o: &Offer<'_>) -> Option<String> {
    let t = facts.torch.as_ref()?;
    let check = |name: &str, installed: &Option<String>, want: Option<&str>| -> Option<String> {
        let have = installed.as_ref()?;
        let hv = Version::from_str(have.trim()).ok()?;
        let label = hv.local().iter().map(|s| s.to_string()).collect::<Vec<_>>().join(".");
        let base_ok = want.is_none_or(|w| Version::from_str(w).is_ok_and(|w| w == hv.clone().without_local()));
        let label_ok = label.is_empty() || label == o.variant;
        (!(base_ok && label_ok)).then(|| format!("{name} {have} does not match torch {}", o.label()))
    };
    let audio_want = match &o.torchaudio {
        AudioPin::Paired(p) | AudioPin::IfInstalled(p) => Some(p.version.as_str()),
        AudioPin::Unavailable => None,
    };
    check("torchvision", &t.torchvision, Some(o.torchvision.version.as_str()))
        .or_else(|| check("torchaudio", &t.torchaudio, audio_want))
}

fn family_label(o: &Offer<'_>) -> String {
    format!("torch {} + torchvision {}", o.label(), o.torchvision.version)
}

fn failing(v: &Verdict) -> Vec<String> {
    v.off_index
        .iter()
        .cloned()
        .chain([&v.driver, &v.arch, &v.wheel].into_iter().filter(|c| c.ok == Some(false)).map(|c| c.reason.clone()))
        .collect()
}

/// "RTX 3050 Laptop = compute 8.6, driver 581.29 ≥ 580"
fn machine_line(m: &Machine, e: &Evaluated<'_>) -> String {
    let gpu = match m.oldest_gpu() {
        Some(g) if m.gpus.len() > 1 => {
            format!("oldest GPU {} = compute {}", g.short, g.cap.map(|c| c.to_string()).unwrap_or_default())
        }
        Some(g) => format!("{} = compute {}", g.short, g.cap.map(|c| c.to_string()).unwrap_or_default()),
        None => match m.gpus.first() {
            Some(g) => format!("{} = compute unknown", g.short),
            None => "no GPU".into(),
        },
    };
    let driver = match (&m.driver, &e.offer.driver) {
        (DriverState::Known(v), Some(r)) if *v >= r.floor => format!("driver {v} ≥ {}", r.floor),
        (DriverState::Known(v), Some(r)) => format!("driver {v} < {}", r.floor),
        (DriverState::Known(v), None) => format!("driver {v}"),
        (DriverState::Unreadable(s), _) => format!("driver '{s}' unreadable"),
        (DriverState::Missing, _) => "no driver".into(),
    };
    format!("{gpu}, {driver}")
}

fn explain_choice(w: &Intent, m: &Machine, e: &Evaluated<'_>, forced: bool) -> String {
    let o = &e.offer;
    let prefix = if forced {
        "forced: ".to_string()
    } else {
        match (&w.variant, &w.torch) {
            (_, Some((_, TorchFrom::KeepVersion))) => format!("keeping torch {}: ", o.torch),
            (Some(v), Some((sel, _))) => format!("--variant {v} --torch {}: ", sel.text()),
            (Some(v), None) => format!("--variant {v}: "),
            (None, Some((sel, _))) => format!("--torch {}: ", sel.text()),
            (None, None) => String::new(),
        }
    };
    if o.cuda.is_none() {
        return format!("{prefix}CPU build → torch {}", o.label());
    }
    format!("{prefix}{} → {}, torch {}", machine_line(m, e), o.variant, o.torch)
}

/// An explicit request with no valid offer: refuse with the reason, or plan it under --force.
fn refuse_or_force<'d>(w: &Intent, data: &'d CompatData, m: &Machine, ev: &[Evaluated<'d>], d: &mut Decision) {
    let named: Vec<usize> = (0..ev.len()).filter(|&i| matches(w, &ev[i].offer)).collect();
    // The offer to report on: the newest that has a wheel here, else the newest at all.
    let rep = named
        .iter()
        .copied()
        .filter(|&i| ev[i].verdict.wheel.ok == Some(true))
        .max_by_key(|&i| rank(&ev[i]))
        .or_else(|| named.iter().copied().max_by_key(|&i| rank(&ev[i])));
    let Some(r) = rep else {
        d.refused = Some(no_such_build(w, data, ev));
        d.explanation = format!("refused: {}", d.refused.as_deref().unwrap_or_default());
        return;
    };
    let reasons = failing(&ev[r].verdict).join("; ");
    let label = ev[r].offer.label();
    if w.force && ev[r].verdict.wheel.ok == Some(true) {
        d.chosen = Some(r);
        d.forced = true;
        d.explanation = explain_choice(w, m, &ev[r], true);
        d.warnings.push(format!("--force: torch {label} fails its checks and will probably not run: {reasons}"));
    } else {
        let fix = if ev[r].verdict.wheel.ok == Some(true) {
            "choose another build (torchup plan shows the ones that run), or add --force to install it anyway"
        } else {
            "--force cannot help: there is no wheel to install"
        };
        d.refused = Some(format!("torch {label} will not run here: {reasons}; {fix}"));
        d.explanation = format!("refused: torch {label} will not run here");
    }
}

/// Why nothing matches an explicit request at all.
fn no_such_build(w: &Intent, data: &CompatData, ev: &[Evaluated<'_>]) -> String {
    let known_variant = |v: &str| ev.iter().any(|e| e.offer.variant == v);
    if let Some(v) = &w.variant
        && !known_variant(v)
    {
        let mut known: Vec<&str> = data.variants().map(|x| x.name.as_str()).collect();
        known.push("cpu");
        return format!(
            "{v} is not a variant torchup knows (known: {}); without --offline the index may list it",
            known.join(", ")
        );
    }
    if let Some((sel, _)) = &w.torch
        && !ev.iter().any(|e| sel.matches(&e.offer.version))
    {
        let newest = data.releases().last().map(|r| r.torch.clone()).unwrap_or_default();
        return format!(
            "torch {} is not in the bundled data ({}; newest {newest}): run without --offline so torchup reads the index, or pick a listed version",
            sel.text(),
            data.meta.date
        );
    }
    match (&w.variant, &w.torch) {
        (Some(v), Some((sel, _))) => {
            let with: Vec<&Evaluated<'_>> = ev.iter().filter(|e| &e.offer.variant == v).collect();
            let span = match (with.first(), with.last()) {
                (Some(a), Some(b)) => format!(" ({v}: torch {}–{})", a.offer.torch, b.offer.torch),
                _ => String::new(),
            };
            format!("torch {} has no {v} build{span}", sel.text())
        }
        _ => "no build matches the request".into(),
    }
}

/// The planned fallback: the next lower CUDA variant that runs (the guide's "if cu124
/// fails, try cu121"), confirmed data first, the same torch when the version was pinned.
fn fallback(w: &Intent, ev: &[Evaluated<'_>], c: usize) -> Option<usize> {
    let chosen = &ev[c];
    let cuda = chosen.offer.cuda?;
    let pool: Vec<usize> = (0..ev.len())
        .filter(|&i| i != c && ev[i].verdict.ok())
        .filter(|&i| ev[i].offer.cuda.is_some_and(|x| x < cuda))
        .collect();
    let same_torch: Vec<usize> =
        pool.iter().copied().filter(|&i| ev[i].offer.version == chosen.offer.version).collect();
    // A pinned torch version stays pinned in the fallback.
    let pool = if w.torch.is_some() { same_torch } else { pool };
    if w.variant.is_some() {
        // The user chose a variant: the next lower variant, as the guide's cu124 → cu121,
        // with the same torch when it has one.
        pool.into_iter().max_by_key(|&i| {
            let e = &ev[i];
            let same = e.offer.version == chosen.offer.version;
            (!e.offer.unconfirmed(), e.offer.cuda, same, e.offer.version.clone(), e.verdict.native)
        })
    } else {
        // Auto: the next-best build with a lower CUDA, confirmed data first.
        pool.into_iter().max_by_key(|&i| (!ev[i].offer.unconfirmed(), rank(&ev[i])))
    }
}

/// The recommended Python: the user's minor clamped into the range `o` supports.
fn recommend_python(m: &Machine, o: &Offer<'_>) -> String {
    match o.python {
        Some(r) => {
            let mine = m.python.unwrap_or(PyVersion::new(3, 12));
            let rec = mine.clamp(r.min, r.max);
            rec.to_string()
        }
        None => m.python.map(|p| p.to_string()).unwrap_or_else(|| "3.12".into()),
    }
}

fn evaluated_under<'d>(ev: &[Evaluated<'d>], m: &Machine, assume: Assume, w: &Intent) -> Vec<Evaluated<'d>> {
    ev.iter()
        .filter(|e| matches(w, &e.offer))
        .map(|e| Evaluated { offer: e.offer.clone(), verdict: evaluate(&e.offer, m, assume) })
        .collect()
}

/// Warnings that say why no CUDA build can be chosen, each naming the fix. True when one
/// of them became the explanation.
fn no_choice_warnings<'d>(
    facts: &Facts,
    w: &Intent,
    data: &'d CompatData,
    m: &Machine,
    ev: &[Evaluated<'d>],
    d: &mut Decision,
) -> bool {
    if d.chosen.is_some() || d.nothing_to_do || w.wants_cpu() {
        return false;
    }
    let headline = |d: &mut Decision, s: String| {
        if d.refused.is_none() {
            d.explanation = format!("no CUDA build can run here: {s}");
        }
        d.warnings.push(s);
        true
    };
    let any = Intent { variant: None, torch: None, force: false };
    if m.os == Os::Macos {
        return headline(d, "macOS has no CUDA builds of PyTorch: torch uses the Apple GPU through MPS. Install the regular build with `python -m pip install torch torchvision` (no CUDA index needed)".into());
    }
    if let Some(p) = &m.python_problem {
        let all = evaluated_under(ev, m, Assume { python: true, driver: true }, &any);
        let rec =
            best(&all, |e| e.verdict.ok()).map(|i| recommend_python(m, &all[i].offer)).unwrap_or_else(|| "3.12".into());
        let s = match p {
            PythonProblem::Missing => format!(
                "no Python interpreter was found: install 64-bit Python {rec} from python.org, or pass --python PATH"
            ),
            PythonProblem::Bits32 => format!(
                "this Python is 32-bit and PyTorch has no 32-bit builds: install 64-bit Python {rec} from python.org and run torchup with --python pointing at it"
            ),
            PythonProblem::NotCPython(i) => {
                format!("{i} cannot use PyTorch's wheels: install CPython {rec} (64-bit) from python.org")
            }
            PythonProblem::BadVersion(v) => format!(
                "the Python version '{v}' could not be read: run torchup with --python pointing at a CPython 3 interpreter"
            ),
            PythonProblem::NoWheelsFor(l) => format!(
                "PyTorch publishes no CUDA wheels for {l}: use 64-bit Python on Windows x86_64 or Linux x86_64/aarch64"
            ),
        };
        return headline(d, s);
    }
    if m.gpus.is_empty() {
        let s = match &facts.gpu_state {
            GpuState::DriverNotLoaded { detail } => format!(
                "the NVIDIA driver is installed but not talking to a GPU ({detail}): on a laptop switch the GPU mode to Standard/Hybrid (not Eco/iGPU-only) and reboot; on Linux check Secure Boot (MOK) and `lsmod | grep nvidia`"
            ),
            GpuState::VersionMismatch { detail } => format!("the NVIDIA driver was updated without a reboot ({detail}): reboot, then run torchup again"),
            GpuState::ToolMissing { detail } => format!("an NVIDIA GPU seems present but no driver answered ({detail}): install the NVIDIA driver, reboot, and run torchup again"),
            GpuState::Unreadable { detail } => format!("the GPU probe gave an answer torchup could not read ({detail}): attach `torchup detect --json` to a bug report"),
            GpuState::TimedOut { detail } => format!("the NVIDIA driver did not answer in time ({detail}): this often follows suspend/resume; reboot, then run torchup again"),
            GpuState::Ready | GpuState::NoGpu => "no NVIDIA GPU was found: if this computer has one, install the NVIDIA driver (and on a laptop switch the GPU mode to Standard/Hybrid); otherwise keep the CPU build (--variant cpu)".into(),
        };
        return headline(d, s);
    }
    // GPU too old or too new for every build on this platform.
    let loose = evaluated_under(ev, m, Assume { python: true, driver: true }, &any);
    if !loose.iter().any(|e| e.verdict.arch.passes())
        && let Some(g) = m.oldest_gpu()
    {
        let platform = m.platform.or(m.os_platform);
        let oldest = platform.and_then(|p| data.oldest_supported(p));
        let s = match (g.cap, oldest) {
            (Some(cap), Some((min, r, b))) if cap < min => format!(
                "{} (compute {cap}) is older than every PyTorch CUDA build for {} (the oldest supported is compute {min}, up to torch {} {}): keep the CPU build (--variant cpu) or use a newer GPU",
                g.short,
                platform.map(WheelPlatform::as_str).unwrap_or("this platform"),
                newest_with(data, b.variant.as_str(), b.platform, min).unwrap_or_else(|| r.torch.clone()),
                b.variant
            ),
            (Some(cap), _) => format!(
                "{} (compute {cap}) is newer than every build in the bundled data ({}): run without --offline so torchup reads the index",
                g.short, data.meta.date
            ),
            (None, _) => format!("GPU {} has an unknown compute capability", g.short),
        };
        return headline(d, s);
    }
    // The driver or the Python version: unlock_hints names the fix.
    false
}

/// The newest torch whose `variant` build on `platform` still runs `cap` natively.
fn newest_with(
    data: &CompatData,
    variant: &str,
    platform: WheelPlatform,
    cap: crate::compat::arch::Capability,
) -> Option<String> {
    data.releases()
        .iter()
        .rev()
        .find(|r| {
            data.build(r, variant, platform)
                .is_some_and(|b| matches!(b.arch.coverage(cap), crate::compat::arch::Coverage::Native(_)))
        })
        .map(|r| r.torch.clone())
}

/// "Updating the driver would unlock …", "Python 3.8 limits torch to …", "torch 2.15 has no
/// build for this GPU".
fn unlock_hints<'d>(w: &Intent, data: &CompatData, m: &Machine, ev: &[Evaluated<'d>], d: &Decision) -> Vec<String> {
    let mut out = Vec::new();
    if w.wants_cpu() || m.os == Os::Macos || m.gpus.is_empty() {
        return out;
    }
    let scope = if d.refused.is_some() {
        w.clone()
    } else {
        Intent { variant: w.variant.clone(), torch: w.torch.clone(), force: false }
    };
    let chosen = d.chosen.map(|c| &ev[c]);
    let current = if d.nothing_to_do { None } else { chosen };
    let beats = |e: &Evaluated<'_>| current.is_none_or(|c| better(e, c));

    // A driver update: the lowest driver that unlocks a newer build, and the one after it
    // that adds higher CUDA variants.
    if m.python_problem.is_none()
        && !d.nothing_to_do
        && !matches!(m.driver, DriverState::Unreadable(_))
        && let Some(s) = driver_hint(data, m, ev, &scope, current)
    {
        out.push(s);
    }

    // A Python version change.
    if m.python_problem.is_none() && !d.nothing_to_do {
        let py = evaluated_under(ev, m, Assume { driver: false, python: true }, &scope);
        if let (Some(b), Some(mine)) = (best(&py, |e| e.verdict.ok()).map(|i| &py[i]), m.python)
            && beats(b)
            && b.offer.python.is_some_and(|r| !r.contains(mine))
        {
            let rec = recommend_python(m, &b.offer);
            let s = match current {
                Some(c) => format!(
                    "Python {mine} limits torch to {}: 64-bit Python {rec} would allow torch {}",
                    c.offer.torch,
                    b.offer.label()
                ),
                None => format!(
                    "no CUDA build of PyTorch supports Python {mine} on this machine: install 64-bit Python {rec} from python.org (torch {} supports it)",
                    b.offer.label()
                ),
            };
            out.push(s);
        }
    }

    // The newest torch dropped this GPU.
    if let (Some(c), Some(g)) = (current, m.oldest_gpu())
        && scope.torch.is_none()
    {
        let loose = evaluated_under(ev, m, Assume { driver: true, python: true }, &scope);
        let newest = loose.iter().map(|e| e.offer.version.clone()).max();
        if let Some(nv) = newest
            && nv > c.offer.version
            && loose.iter().filter(|e| e.offer.version == nv).all(|e| !e.verdict.arch.passes())
        {
            let cap = g.cap.map(|c| c.to_string()).unwrap_or_default();
            out.push(format!(
                "torch {nv} has no build for {} (compute {cap}); torch {} is the newest that runs on it",
                g.short, c.offer.torch
            ));
        }
    }
    out
}

/// "updating the NVIDIA driver to ≥ 580.65.06 (Linux) would unlock torch 2.15.0 (cu130, cu132)".
fn driver_hint(
    data: &CompatData,
    m: &Machine,
    ev: &[Evaluated<'_>],
    scope: &Intent,
    current: Option<&Evaluated<'_>>,
) -> Option<String> {
    let in_scope = |e: &&Evaluated<'_>| matches(scope, &e.offer);
    let now: Vec<(Version, String)> = ev
        .iter()
        .filter(in_scope)
        .filter(|e| e.verdict.ok())
        .map(|e| (e.offer.version.clone(), e.offer.variant.clone()))
        .collect();
    let beats = |e: &Evaluated<'_>| current.is_none_or(|c| better(e, c));
    let mut thresholds: Vec<DriverVersion> = data
        .variants()
        .flat_map(|v| [v.floor.version.get(m.driver_os).clone(), v.full.version.get(m.driver_os).clone()])
        .filter(|t| m.driver_version().is_none_or(|cur| t > cur))
        .collect();
    thresholds.sort();
    thresholds.dedup();

    // (driver, newest torch it unlocks, that torch's variants it unlocks)
    let mut first: Option<(DriverVersion, Version, Vec<String>)> = None;
    let mut second: Option<String> = None;
    for t in thresholds {
        let hypo = Machine { driver: DriverState::Known(t.clone()), driver_cuda: None, ..m.clone() };
        let newly: Vec<Evaluated<'_>> = ev
            .iter()
            .filter(in_scope)
            .filter(|e| !now.contains(&(e.offer.version.clone(), e.offer.variant.clone())))
            .map(|e| Evaluated { offer: e.offer.clone(), verdict: evaluate(&e.offer, &hypo, Assume::default()) })
            .filter(|e| e.verdict.ok() && beats(e))
            .collect();
        let Some(top) = newly.iter().map(|e| e.offer.version.clone()).max() else { continue };
        let vars_of = |v: &Version| -> Vec<String> {
            let mut out: Vec<&Evaluated<'_>> = newly.iter().filter(|e| &e.offer.version == v).collect();
            out.sort_by_key(|e| e.offer.cuda);
            out.iter().map(|e| e.offer.variant.clone()).collect()
        };
        match &first {
            None => first = Some((t, top.clone(), vars_of(&top))),
            Some((_, t1, vars1)) => {
                if top > *t1 {
                    second = Some(format!("≥ {t}: torch {top} ({})", vars_of(&top).join(", ")));
                    break;
                }
                let more: Vec<String> = vars_of(t1).into_iter().filter(|v| !vars1.contains(v)).collect();
                if !more.is_empty() {
                    second = Some(format!("≥ {t} adds {}", more.join(", ")));
                    break;
                }
            }
        }
    }
    let (d1, t1, vars) = first?;
    let table = m.driver_table_name();
    Some(match &m.driver {
        DriverState::Known(v) => format!(
            "driver {v} is too old for newer builds: updating the NVIDIA driver to ≥ {d1} ({table}) would unlock torch {t1} ({}){}",
            vars.join(", "),
            second.map(|s| format!("; {s}")).unwrap_or_default()
        ),
        _ => format!(
            "no NVIDIA driver was found: install the current NVIDIA driver ({table}); ≥ {d1} runs torch {t1} ({}){}",
            vars.join(", "),
            second.map(|s| format!(", {s}")).unwrap_or_default()
        ),
    })
}

/// Environment problems that will bite the install or the verify step.
fn env_warnings(facts: &Facts, m: &Machine, out: &mut Vec<String>) {
    if m.unknown_capability() {
        for g in m.gpus.iter().filter(|g| g.cap.is_none()) {
            out.push(format!(
                "the compute capability of GPU {} ({}) is unknown, so the architecture check could not be made: the smoke test after install will tell; if it is older than Turing (GTX 10xx or older), choose --variant cu126",
                g.index, g.short
            ));
        }
    }
    if let DriverState::Unreadable(s) = &m.driver {
        out.push(format!("the driver version '{s}' could not be read, so the driver floor was not checked: update the driver or report `nvidia-smi` output"));
    }
    // The environment's own problems, in the one wording of `describe`.
    out.extend(
        crate::describe::warnings(facts)
            .into_iter()
            .filter(|w| w.id.is_some_and(|id| crate::describe::ENVIRONMENT_PROBLEMS.contains(&id)))
            .map(|w| w.to_string()),
    );
    if let Some(t) = &facts.torch {
        let family = crate::facts::TORCH_FAMILY;
        let others: Vec<&String> = t
            .dependents
            .iter()
            .filter(|d| !family.iter().any(|f| d.split_whitespace().next().is_some_and(|n| n.eq_ignore_ascii_case(f))))
            .collect();
        if !others.is_empty() {
            out.push(format!(
                "these packages depend on torch; compiled ones must be rebuilt for the new build: {}",
                others.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
}
