//! The three checks on an offer — driver floor, GPU architecture, wheel for this Python and
//! platform — each with a verdict and a one-line reason.

use super::catalog::{IndexState, Offer};
use super::machine::{DriverState, Machine, PythonProblem};
use crate::compat::arch::Coverage;
use crate::compat::driver_fit::{DriverFit, fit};
use crate::facts::Os;

/// One criterion of an offer (driver, GPU architecture, wheel): passed, failed, or could
/// not be judged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Criterion {
    /// None: not applicable, or not decidable.
    pub ok: Option<bool>,
    /// The check could not be made because a fact is unknown (GPU capability, driver
    /// version). Such a check does not block, but the candidate is marked unconfirmed.
    pub unknown_fact: bool,
    pub reason: String,
}

impl Criterion {
    fn pass(reason: impl Into<String>) -> Self {
        Criterion { ok: Some(true), unknown_fact: false, reason: reason.into() }
    }
    fn fail(reason: impl Into<String>) -> Self {
        Criterion { ok: Some(false), unknown_fact: false, reason: reason.into() }
    }
    fn unknown(reason: impl Into<String>) -> Self {
        Criterion { ok: None, unknown_fact: true, reason: reason.into() }
    }
    fn blocked() -> Self {
        Criterion { ok: None, unknown_fact: false, reason: String::new() }
    }

    /// Passed, or not decidable only because a machine fact is unknown.
    pub(crate) fn passes(&self) -> bool {
        self.ok == Some(true) || (self.ok.is_none() && self.unknown_fact)
    }
}

/// What to take for granted, to ask "what would a driver / Python change unlock?".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Assume {
    /// Any driver.
    pub driver: bool,
    /// A 64-bit CPython of whatever version the release supports.
    pub python: bool,
}

/// All checks on one offer.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    pub cpu: bool,
    pub wheel: Criterion,
    pub driver: Criterion,
    pub arch: Criterion,
    /// The driver also meets the variant's full-feature (toolkit) driver.
    pub full_met: bool,
    /// Every GPU runs native code (no PTX JIT).
    pub native: bool,
    /// Further reasons: assumptions, minor-version compatibility, PTX.
    pub notes: Vec<String>,
    /// Why this build is not on the index in use (HTTP 404/410 from an index that answered
    /// other pages). Such a build is never recommended nor a fallback; --force can still
    /// plan it when the bundled data knows its wheel.
    pub off_index: Option<String>,
}

impl Verdict {
    /// Every check passed and the build is on the index in use.
    pub(crate) fn ok(&self) -> bool {
        self.off_index.is_none() && self.runs_here()
    }

    /// The build would run on this machine (wherever its wheels come from): used for the
    /// installed build, which needs no index.
    pub(crate) fn runs_here(&self) -> bool {
        if self.cpu {
            return self.wheel.ok == Some(true);
        }
        self.wheel.ok == Some(true) && self.driver.passes() && self.arch.passes()
    }

    /// A check could not be made for lack of a fact.
    pub(crate) fn unknown_fact(&self) -> bool {
        self.driver.unknown_fact || self.arch.unknown_fact
    }

    /// Reasons in column order, then the notes.
    pub(crate) fn reasons(&self) -> Vec<String> {
        self.off_index
            .iter()
            .cloned()
            .chain([&self.driver, &self.arch, &self.wheel].into_iter().map(|c| c.reason.clone()))
            .chain(self.notes.iter().cloned())
            .filter(|r| !r.is_empty())
            .collect()
    }
}

/// Evaluate one offer on this machine.
pub(crate) fn evaluate(o: &Offer<'_>, m: &Machine, assume: Assume) -> Verdict {
    let mut notes = Vec::new();
    let wheel = wheel_check(o, m, assume);
    let off_index = (o.index == IndexState::NotOnIndex)
        .then(|| format!("not on this index: it has no {} torch page (HTTP 404)", o.variant));
    if let Some(gap) = &o.family_gap {
        notes.push(gap.clone());
    }
    if o.cuda.is_none() {
        return Verdict {
            cpu: true,
            wheel,
            driver: Criterion::blocked(),
            arch: Criterion::blocked(),
            full_met: true,
            native: true,
            notes,
            off_index,
        };
    }
    let (driver, full_met) = driver_check(o, m, assume, &mut notes);
    let (arch, native) = arch_check(o, m, full_met, assume, &mut notes);
    for a in &o.assumptions {
        notes.push(format!("unconfirmed: {}", a.text));
    }
    if let Some(b) = &o.build
        && b.evidence.is_unconfirmed()
        && !b.assumed
        && o.assumptions.is_empty()
    {
        notes.push(format!("unconfirmed: arch list {} ({})", b.arch, b.source));
    }
    Verdict { cpu: false, wheel, driver, arch, full_met, native, notes, off_index }
}

fn driver_check(o: &Offer<'_>, m: &Machine, assume: Assume, notes: &mut Vec<String>) -> (Criterion, bool) {
    if assume.driver {
        return (Criterion::pass(""), true);
    }
    // An offer has driver rows exactly when its variant names a CUDA version.
    let (Some(req), Some(build)) = (&o.driver, o.cuda) else {
        return (Criterion::fail(format!("no driver data for {}", o.variant)), false);
    };
    let table = m.driver_table_name();
    match &m.driver {
        DriverState::Missing => {
            (Criterion::fail(format!("no NVIDIA driver found ({} needs ≥ {} on {table})", o.variant, req.floor)), false)
        }
        DriverState::Unreadable(s) => {
            (Criterion::unknown(format!("driver version '{s}' could not be read: driver floor not checked")), false)
        }
        DriverState::Known(v) => {
            let from = req.assumed_from.as_ref().map(|f| format!(", as {f}")).unwrap_or_default();
            let fit = fit(m.driver_cuda, Some(v), build, Some(req));
            if fit == DriverFit::TooOld {
                let why = if *v < req.floor {
                    format!("driver {v} < {} ({} floor, {table}{from})", req.floor, o.variant)
                } else {
                    let level = m.driver_cuda.map(|c| c.to_string()).unwrap_or_default();
                    format!("driver {v} supports CUDA ≤ {level}, older than {}'s CUDA major", o.variant)
                };
                return (Criterion::fail(why), false);
            }
            let full_met = fit == DriverFit::Full;
            match &req.full {
                Some(f) if !full_met => notes.push(format!(
                    "driver {v} is below the {} toolkit driver {f}: runs by minor-version compatibility (no PTX JIT)",
                    o.variant
                )),
                None if !full_met => notes.push(format!("the full-feature driver for {} is not known", o.variant)),
                _ => {}
            }
            (Criterion::pass(format!("driver {v} ≥ {} ({} floor, {table}{from})", req.floor, o.variant)), full_met)
        }
    }
}

fn arch_check(
    o: &Offer<'_>,
    m: &Machine,
    full_met: bool,
    assume: Assume,
    notes: &mut Vec<String>,
) -> (Criterion, bool) {
    let Some(build) = &o.build else { return (Criterion::blocked(), false) };
    if m.gpus.is_empty() {
        return (Criterion::fail("no NVIDIA GPU found"), false);
    }
    let (mut fails, mut unknown, mut oks) = (Vec::new(), Vec::new(), Vec::new());
    let mut native = true;
    for g in &m.gpus {
        let Some(cap) = g.cap else {
            unknown
                .push(format!("GPU {} ({}): compute capability unknown, architecture not checked", g.index, g.short));
            native = false;
            continue;
        };
        let inferred = if g.inferred { " (inferred from the name)" } else { "" };
        match build.arch.coverage(cap) {
            Coverage::Native(s) => oks.push(format!("{} {cap}{inferred}: {}", g.short, s.sm())),
            Coverage::LegacyPtx(p) => fails.push(format!(
                "{} {cap}{inferred}: only legacy PTX {} (kernels needing newer GPUs are missing; newest code {})",
                g.short,
                p.compute(),
                build.arch.max().map(|m| m.sm()).unwrap_or_default()
            )),
            Coverage::Jit(p) => {
                native = false;
                let jit =
                    format!("{} {cap}{inferred}: only via PTX {} (JIT-compiled on first use)", g.short, p.compute());
                if full_met || assume.driver {
                    oks.push(jit);
                } else if matches!(m.driver, DriverState::Unreadable(_)) {
                    unknown.push(format!("{jit}; needs a driver that could not be read"));
                } else {
                    let need =
                        o.driver.as_ref().and_then(|d| d.full.as_ref()).map(|f| format!(" ≥ {f}")).unwrap_or_default();
                    fails.push(format!("{jit}, which needs the toolkit driver{need}"));
                }
            }
            Coverage::None => {
                fails.push(format!("{} {cap}{inferred}: not in {} list {}", g.short, o.variant, build.arch))
            }
        }
    }
    if build.assumed {
        notes.push(format!("arch list {} {}", build.arch, build.source));
    }
    let check = if !fails.is_empty() {
        Criterion::fail(fails.join("; "))
    } else if !unknown.is_empty() {
        Criterion::unknown(unknown.into_iter().chain(oks).collect::<Vec<_>>().join("; "))
    } else {
        Criterion::pass(oks.join("; "))
    };
    (check, native)
}

fn wheel_check(o: &Offer<'_>, m: &Machine, assume: Assume) -> Criterion {
    if !assume.python
        && let Some(p) = &m.python_problem
    {
        return Criterion::fail(match p {
            PythonProblem::Missing => "no Python interpreter found".to_string(),
            PythonProblem::Bits32 => "32-bit Python: PyTorch publishes no 32-bit wheels".to_string(),
            PythonProblem::NotCPython(i) => format!("{i}: PyTorch publishes CPython wheels only"),
            PythonProblem::BadVersion(v) => format!("Python version '{v}' could not be read"),
            PythonProblem::NoWheelsFor(p) => format!("no PyTorch wheels for {p}"),
        });
    }
    let platform = if assume.python { m.platform.or(m.os_platform) } else { m.platform };
    let Some(platform) = platform else {
        return Criterion::fail("no PyTorch wheels for this platform");
    };
    let tag = match (m.python, assume.python) {
        (Some(py), false) => py.tag(),
        _ => "cpXY".to_string(),
    };
    if o.cuda.is_some() && platform.os() == Os::Macos {
        return Criterion::fail("macOS: no CUDA builds (PyTorch uses the Apple GPU through MPS)");
    }
    if o.cuda.is_none() && !o.cpu_here && o.index != IndexState::Listed {
        return Criterion::fail(format!("no CPU wheels of torch {} for {platform}", o.torch));
    }
    if o.cuda.is_some() && o.build.is_none() {
        let elsewhere: Vec<&str> = o.platforms_elsewhere.iter().map(|p| p.as_str()).collect();
        let only = if elsewhere.is_empty() { String::new() } else { format!(" (only {})", elsewhere.join(", ")) };
        return Criterion::fail(format!("no {} build of torch {} for {platform}{only}", o.variant, o.torch));
    }
    match o.index {
        IndexState::NotListed if !assume.python => {
            return Criterion::fail(format!(
                "the index lists no torch {} wheel for {tag} {}",
                o.label(),
                platform.wheel_tag()
            ));
        }
        IndexState::Listed if !assume.python => {
            return Criterion::pass(format!("{tag} {} wheel (index)", platform.wheel_tag()));
        }
        _ => {}
    }
    match (o.python, m.python) {
        (_, _) if assume.python => Criterion::pass(""),
        (Some(range), Some(py)) if range.contains(py) => {
            Criterion::pass(format!("{tag} {} wheel", platform.wheel_tag()))
        }
        (Some(range), Some(_)) => Criterion::fail(format!("no {tag} wheel (torch {}: {range})", o.torch)),
        _ => Criterion::fail(format!("no Python range known for torch {}", o.torch)),
    }
}
