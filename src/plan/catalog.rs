//! The builds the planner can choose from ("offers"): every (torch, variant) pair in the
//! bundled data, refined by an index snapshot when one is given.
//!
//! This is the one place where the live index plugs in: [`IndexView`] reduces an
//! [`IndexSnapshot`] to "which torch versions have a wheel for this CPython tag and platform,
//! per variant". A pair the index lists but the data does not know (a future cu134, a new
//! torch release) becomes an offer with the newest known architecture list of that CUDA
//! major, marked as assumed.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use pep440_rs::Version;

use super::machine::Machine;
use crate::compat::arch::ArchList;
use crate::compat::available::{DataSource, IndexSnapshot};
use crate::compat::data::{CompatData, CudaVersion, Evidence, Release};
use crate::compat::driver_fit::DriverRequirement;
use crate::compat::platform::{PyRange, WheelPlatform};
use crate::compat::tags::{InterpreterTags, versions_for};

/// What the index says, reduced to this interpreter's CPython tag and platform.
#[derive(Debug, Clone, Default)]
pub(crate) struct IndexView {
    /// package → variant → base versions with a wheel for this CPython and platform.
    /// A variant present here (even with an empty set) had its page read.
    pub listed: BTreeMap<String, BTreeMap<String, BTreeSet<Version>>>,
    /// Variants whose page could not be read, with the reason.
    pub failed: BTreeMap<String, String>,
    /// (package, variant) pages the index answered 404/410 for while it answered others:
    /// "not on this index". Such a torch build is never recommended nor a fallback.
    pub not_found: BTreeSet<(String, String)>,
    pub source: Option<DataSource>,
}

impl IndexView {
    /// Reduce a snapshot to the wheels that install into this interpreter (tag matching by
    /// [`InterpreterTags`]); with no usable interpreter, nothing matches.
    pub(crate) fn new(snapshot: &IndexSnapshot, tags: Option<&InterpreterTags>) -> IndexView {
        let mut listed: BTreeMap<String, BTreeMap<String, BTreeSet<Version>>> = BTreeMap::new();
        for l in snapshot.listings.values() {
            let set = listed.entry(l.package.clone()).or_default().entry(l.variant.clone()).or_default();
            if let Some(tags) = tags {
                set.extend(versions_for(l, tags).into_iter().map(Version::without_local));
            }
        }
        let not_found = snapshot
            .not_found
            .iter()
            .filter_map(|k| k.split_once('/'))
            .map(|(variant, package)| (package.to_string(), variant.to_string()))
            .collect();
        IndexView { listed, failed: snapshot.failed.clone(), not_found, source: snapshot.source }
    }

    /// The index answered 404/410 for `package`'s page of `variant`.
    pub(crate) fn is_not_found(&self, package: &str, variant: &str) -> bool {
        self.not_found.contains(&(package.to_string(), variant.to_string()))
    }

    /// The versions of `package` the index has for `variant`, if its page was read.
    pub(crate) fn versions(&self, package: &str, variant: &str) -> Option<&BTreeSet<Version>> {
        self.listed.get(package)?.get(variant)
    }
}

/// Whether the index confirmed a wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexState {
    /// No snapshot, or this variant's page was not read: bundled data decides.
    NotConsulted,
    /// The index lists a wheel for this CPython and platform.
    Listed,
    /// The index page was read and has no such wheel.
    NotListed,
    /// The index answered 404/410 for this variant's torch page while it answered others:
    /// the build is not on this index (installable only with --force).
    NotOnIndex,
}

/// The CUDA build behind an offer, for this machine's platform.
#[derive(Debug, Clone)]
pub struct OfferBuild {
    pub arch: ArchList,
    pub evidence: Evidence,
    /// Where the list comes from ("builder release/2.5"; "assumed from torch 2.14.1 cu132").
    pub source: String,
    /// The data has no row for this build: the list is borrowed from the newest known build of
    /// the same CUDA major.
    pub assumed: bool,
}

/// An exact companion pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub version: String,
    /// Derived from a rule, not read anywhere.
    pub assumed: bool,
    pub note: Option<String>,
}

/// How torchaudio goes with an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioPin {
    /// The release has its own torchaudio (≤ 2.11): install it with the family.
    Paired(Pin),
    /// After 2.11: torchaudio 2.11.0 works with newer torch; reinstall it only if it was
    /// installed, and only where that variant has it.
    IfInstalled(Pin),
    /// No torchaudio for this variant.
    Unavailable,
}

/// What an assumption is about (so the index can lift the ones it confirms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssumptionKind {
    /// The release row or its companion pins.
    Release,
    /// The build row (variant on this platform, arch list).
    Build,
    /// A release the data does not know.
    NewRelease,
    /// A variant the data does not know.
    NewVariant,
}

/// One thing an offer rests on that is not confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assumption {
    pub kind: AssumptionKind,
    pub text: String,
}

impl Assumption {
    fn new(kind: AssumptionKind, text: impl Into<String>) -> Self {
        Assumption { kind, text: text.into() }
    }
}

/// One (torch, variant) the planner can choose.
#[derive(Debug, Clone)]
pub struct Offer<'d> {
    /// "2.15.0"
    pub torch: String,
    pub version: Version,
    /// "cu130", or "cpu".
    pub variant: String,
    pub cuda: Option<CudaVersion>,
    pub release: Option<&'d Release>,
    /// The release line's CPython range; None when only the index knows the release.
    pub python: Option<PyRange>,
    /// The build for this machine's platform; None when there is none (or no platform).
    pub build: Option<OfferBuild>,
    /// The platforms this release has this variant for (data), for "only on …" messages.
    pub platforms_elsewhere: Vec<WheelPlatform>,
    /// CPU wheels exist for this platform (cpu offers).
    pub cpu_here: bool,
    pub index: IndexState,
    pub driver: Option<DriverRequirement>,
    pub torchvision: Pin,
    pub torchaudio: AudioPin,
    /// Every assumption this offer rests on, for its reasons.
    pub assumptions: Vec<Assumption>,
    /// Published on the pytorch conda channel (torch ≤ 2.5) with this pytorch-cuda.
    pub conda: Option<String>,
    /// Why the index cannot supply the whole family (torchvision missing for this torch);
    /// None when complete or not known.
    pub family_gap: Option<String>,
}

impl Offer<'_> {
    /// The offer rests on something only the index suggested and the data does not know
    /// (a new release or variant, a borrowed arch list): such an offer never outranks one
    /// the data confirms.
    pub fn assumed(&self) -> bool {
        self.build.as_ref().is_some_and(|b| b.assumed)
            || self
                .assumptions
                .iter()
                .any(|a| matches!(a.kind, AssumptionKind::NewRelease | AssumptionKind::NewVariant))
    }

    /// A decision on this offer rests on unconfirmed data.
    pub fn unconfirmed(&self) -> bool {
        !self.assumptions.is_empty() || self.build.as_ref().is_some_and(|b| b.evidence.is_unconfirmed() || b.assumed)
    }

    /// "2.15.0+cu130".
    pub fn label(&self) -> String {
        format!("{}+{}", self.torch, self.variant)
    }
}

/// Build every offer for a machine. `cpu` adds CPU offers (only for `--variant cpu`).
pub(crate) fn offers<'d>(data: &'d CompatData, m: &Machine, index: Option<&IndexView>, cpu: bool) -> Vec<Offer<'d>> {
    let mut out: Vec<Offer<'d>> = Vec::new();
    for r in data.releases() {
        let line = data.line_of(r);
        let mut variants: Vec<&str> = line.builds.iter().map(|b| b.variant.as_str()).collect();
        variants.sort();
        variants.dedup();
        for v in variants {
            out.push(cuda_offer_from_data(data, m, r, v));
        }
        if cpu {
            out.push(cpu_offer(data, m, r));
        }
    }
    if let Some(view) = index {
        refine_with_index(data, m, view, &mut out);
    }
    out.sort_by(|a, b| a.version.cmp(&b.version).then(a.cuda.cmp(&b.cuda)));
    out
}

fn torchvision_pin(r: Option<&Release>, version: &Version) -> Pin {
    match r {
        Some(r) => Pin {
            version: r.torchvision.clone(),
            assumed: r.evidence.is_unconfirmed(),
            note: r.note.clone().filter(|_| r.evidence.is_unconfirmed()),
        },
        None => {
            let rel = version.release();
            let (minor, patch) = (rel.get(1).copied().unwrap_or(0), rel.get(2).copied().unwrap_or(0));
            Pin {
                version: format!("0.{}.{}", minor + 15, patch),
                assumed: true,
                note: Some("torchvision pin derived from the 0.(minor+15) rule".into()),
            }
        }
    }
}

fn audio_pin(data: &CompatData, r: Option<&Release>, variant: &str, platform: Option<WheelPlatform>) -> AudioPin {
    if let Some(a) = r.and_then(|r| r.torchaudio.as_ref()) {
        return AudioPin::Paired(Pin { version: a.clone(), assumed: false, note: None });
    }
    let last = &data.torchaudio_last;
    let has_build =
        data.release(&last.version).zip(platform).is_some_and(|(lr, p)| data.build(lr, variant, p).is_some());
    if variant == "cpu" || has_build {
        AudioPin::IfInstalled(Pin {
            version: last.version.clone(),
            assumed: last.evidence.is_unconfirmed(),
            note: last.note.clone(),
        })
    } else {
        AudioPin::Unavailable
    }
}

/// The floor and toolkit driver of `variant` for this machine's driver table (the one rule's
/// input, `compat::driver_fit`).
fn driver_rows(data: &CompatData, m: &Machine, variant: &str) -> Option<DriverRequirement> {
    crate::compat::driver_fit::requirement(data, CudaVersion::of_variant(variant)?, m.driver_os)
}

fn cuda_offer_from_data<'d>(data: &'d CompatData, m: &Machine, r: &'d Release, variant: &str) -> Offer<'d> {
    let line = data.line_of(r);
    let build = m.platform.and_then(|p| data.build(r, variant, p)).map(|b| OfferBuild {
        arch: b.arch.clone(),
        evidence: b.evidence,
        source: b.source.clone(),
        assumed: false,
    });
    let mut assumptions = Vec::new();
    if let Some(b) = m.platform.and_then(|p| data.build(r, variant, p))
        && b.evidence.is_unconfirmed()
    {
        assumptions.push(Assumption::new(
            AssumptionKind::Build,
            format!("{} {} on {}: {}", r.torch, variant, b.platform, b.source),
        ));
    }
    if r.evidence.is_unconfirmed() {
        let text = r.note.clone().unwrap_or_else(|| format!("the torch {} row is unconfirmed", r.torch));
        assumptions.push(Assumption::new(AssumptionKind::Release, text));
    }
    Offer {
        torch: r.torch.clone(),
        version: r.version.clone(),
        variant: variant.to_string(),
        cuda: CudaVersion::of_variant(variant),
        release: Some(r),
        python: Some(line.python),
        build,
        platforms_elsewhere: line.builds.iter().filter(|b| b.variant == variant).map(|b| b.platform).collect(),
        cpu_here: false,
        index: IndexState::NotConsulted,
        driver: driver_rows(data, m, variant),
        torchvision: torchvision_pin(Some(r), &r.version),
        torchaudio: audio_pin(data, Some(r), variant, m.platform),
        assumptions,
        conda: if line.conda_channel { data.variant(variant).and_then(|v| v.conda.clone()) } else { None },
        family_gap: None,
    }
}

fn cpu_offer<'d>(data: &'d CompatData, m: &Machine, r: &'d Release) -> Offer<'d> {
    let line = data.line_of(r);
    Offer {
        torch: r.torch.clone(),
        version: r.version.clone(),
        variant: "cpu".into(),
        cuda: None,
        release: Some(r),
        python: Some(line.python),
        build: None,
        platforms_elsewhere: line.cpu.clone(),
        cpu_here: m.platform.is_some_and(|p| line.cpu.contains(&p)),
        index: IndexState::NotConsulted,
        driver: None,
        torchvision: torchvision_pin(Some(r), &r.version),
        torchaudio: audio_pin(data, Some(r), "cpu", m.platform),
        assumptions: Vec::new(),
        conda: None,
        family_gap: None,
    }
}

/// Mark what the index lists and add what only the index knows.
fn refine_with_index<'d>(data: &'d CompatData, m: &Machine, view: &IndexView, out: &mut Vec<Offer<'d>>) {
    for o in out.iter_mut() {
        if view.is_not_found("torch", &o.variant) {
            o.index = IndexState::NotOnIndex;
        }
    }
    let Some(torch) = view.listed.get("torch") else { return };
    for (variant, versions) in torch {
        for o in out.iter_mut().filter(|o| &o.variant == variant) {
            o.index = if versions.contains(&o.version) { IndexState::Listed } else { IndexState::NotListed };
        }
        for v in versions {
            let pos = out.iter().position(|o| &o.variant == variant && &o.version == v);
            let idx = match pos {
                Some(i) => i,
                None => match index_only_offer(data, m, variant, v) {
                    Some(o) => {
                        out.push(o);
                        out.len() - 1
                    }
                    None => continue,
                },
            };
            let o = &mut out[idx];
            o.index = IndexState::Listed;
            if o.variant != "cpu" && o.build.is_none() {
                assume_build(data, m, o);
            }
            confirm_companions(view, o);
        }
    }
}

/// An offer for a (torch, variant) only the index knows.
fn index_only_offer<'d>(data: &'d CompatData, m: &Machine, variant: &str, v: &Version) -> Option<Offer<'d>> {
    let cuda = CudaVersion::of_variant(variant);
    if cuda.is_none() && variant != "cpu" {
        return None; // rocm, xpu, ...: not torchup's business
    }
    let release = data.release(&v.to_string());
    let torch = release.map(|r| r.torch.clone()).unwrap_or_else(|| v.to_string());
    let mut assumptions = Vec::new();
    if release.is_none() {
        let text =
            format!("torch {torch} is newer than the bundled data ({}): known from the index only", data.meta.date);
        assumptions.push(Assumption::new(AssumptionKind::NewRelease, text));
    }
    if let (Some(c), None) = (cuda, data.variant(variant)) {
        let text = format!(
            "{variant} is not in the bundled data: driver floor assumed from the newest CUDA {} variant",
            c.major
        );
        assumptions.push(Assumption::new(AssumptionKind::NewVariant, text));
    }
    Some(Offer {
        torch,
        version: v.clone(),
        variant: variant.to_string(),
        cuda,
        release,
        python: release.map(|r| data.line_of(r).python),
        build: None,
        platforms_elsewhere: Vec::new(),
        cpu_here: variant == "cpu",
        index: IndexState::Listed,
        driver: driver_rows(data, m, variant),
        torchvision: torchvision_pin(release, v),
        torchaudio: audio_pin(data, release, variant, m.platform),
        assumptions,
        conda: None,
        family_gap: None,
    })
}

/// The index lists a build the data has no row for: borrow the newest arch list of the
/// same CUDA major on this platform, and say so.
fn assume_build(data: &CompatData, m: &Machine, o: &mut Offer<'_>) {
    let (Some(cuda), Some(p)) = (o.cuda, m.platform) else { return };
    if let Some((r, b)) = data.newest_build_of_major(cuda.major, p) {
        let source = format!("assumed from torch {} {} (newest known CUDA {} build)", r.torch, b.variant, cuda.major);
        o.assumptions
            .push(Assumption::new(AssumptionKind::Build, format!("arch list for {} on {p} {source}", o.label())));
        o.build = Some(OfferBuild { arch: b.arch.clone(), evidence: Evidence::Unconfirmed, source, assumed: true });
    }
}

/// The index can confirm (or correct) the companion pins, or show that it lacks them.
fn confirm_companions(view: &IndexView, o: &mut Offer<'_>) {
    if view.is_not_found("torchvision", &o.variant) {
        o.family_gap = Some(format!("the index has no torchvision page for {}", o.variant));
    }
    if let Some(tv) = view.versions("torchvision", &o.variant) {
        let want = Version::from_str(&o.torchvision.version).ok();
        if want.as_ref().is_some_and(|w| tv.contains(w)) {
            // The index lists both torch and this torchvision: the release row is confirmed.
            o.torchvision.assumed = false;
            o.torchvision.note = None;
            o.assumptions.retain(|a| a.kind != AssumptionKind::Release);
        } else if let Some(best) = same_series(tv, want.as_ref()) {
            o.torchvision = Pin {
                version: best.to_string(),
                assumed: false,
                note: Some(format!("index has torchvision {best}, not {}", o.torchvision.version)),
            };
            o.assumptions.retain(|a| a.kind != AssumptionKind::Release);
        } else {
            o.family_gap = Some(format!(
                "the index has no torchvision {} for {} (torch {} has no matching torchvision there)",
                o.torchvision.version, o.variant, o.torch
            ));
        }
    }
}

/// The newest listed version with the same major.minor as `want`.
fn same_series<'a>(set: &'a BTreeSet<Version>, want: Option<&Version>) -> Option<&'a Version> {
    let w = want?.release();
    set.iter().rev().find(|v| v.release().get(..2) == w.get(..2))
}
