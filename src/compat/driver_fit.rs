//! Whether an NVIDIA driver runs a PyTorch build of a given CUDA version: the one rule.
//!
//! The planner (`plan::check`), the facts in words (`describe::torch_state`: detect, the
//! Check screen, the doctor's torch line), the doctor
//! report's CUDA-stack table and the diagnoses (`driver-too-old`) all ask this question;
//! they all ask [`fit`], with the driver rows of [`requirement`] (compat.toml's variants).
//!
//! The rule, from NVIDIA's compatibility tables:
//! - a driver below the build's floor cannot initialise CUDA at all ([`DriverFit::TooOld`]);
//! - a driver whose own CUDA level (nvidia-smi's "CUDA Version") has an older major is too
//!   old as well;
//! - a driver reporting a level ≥ the build's CUDA, or at least the build toolkit's driver,
//!   runs everything ([`DriverFit::Full`]);
//! - otherwise the same major runs by minor-version compatibility: everything but JIT of
//!   newer PTX ([`DriverFit::MinorCompatible`]).

use crate::facts::Os;

use super::data::{CompatData, CudaVersion};
use super::driver::DriverVersion;

/// How a driver relates to a build's CUDA version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DriverFit {
    /// Every feature, including JIT of the build's PTX.
    Full,
    /// Same CUDA major, older driver: runs by minor-version compatibility (no PTX JIT).
    MinorCompatible,
    /// CUDA cannot initialise: the driver is below the build's floor or its CUDA major.
    TooOld,
    /// Neither the driver's CUDA level nor its version (with the build's rows) is known.
    Unknown,
}

impl DriverFit {
    /// The driver runs the build (fully or by minor-version compatibility); None when unknown.
    pub(crate) fn runs(self) -> Option<bool> {
        match self {
            DriverFit::Full | DriverFit::MinorCompatible => Some(true),
            DriverFit::TooOld => Some(false),
            DriverFit::Unknown => None,
        }
    }
}

/// The driver rows of one CUDA variant for one driver OS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverRequirement {
    /// The lowest driver that runs the build at all.
    pub floor: DriverVersion,
    /// The build toolkit's driver (full features); None when unknown.
    pub full: Option<DriverVersion>,
    /// The rows were borrowed from this variant of the same CUDA major (the build's own
    /// variant is not in the data; its toolkit driver is then unknown).
    pub assumed_from: Option<String>,
}

/// The driver table a machine's driver is judged by: WSL runs on the Windows driver.
pub(crate) fn driver_os(os: Os, wsl: bool) -> Os {
    if wsl { Os::Windows } else { os }
}

/// The bundled rows for builds of CUDA `build` on a driver of `driver_os`: the variant's own,
/// or for a variant the data does not know, the floor of its major's newest variant.
pub(crate) fn requirement(data: &CompatData, build: CudaVersion, driver_os: Os) -> Option<DriverRequirement> {
    let variant = build.variant();
    match data.variant(&variant) {
        Some(v) => Some(DriverRequirement {
            floor: v.floor.version.get(driver_os).clone(),
            full: Some(v.full.version.get(driver_os).clone()),
            assumed_from: None,
        }),
        None => {
            let v = data.newest_variant_of_major(build.major)?;
            Some(DriverRequirement {
                floor: v.floor.version.get(driver_os).clone(),
                full: None,
                assumed_from: Some(v.name.clone()),
            })
        }
    }
}

/// The rule (module docs). `level`: the CUDA version the driver reports; `version`: the
/// driver's version; `req`: the build's rows for this driver's OS ([`requirement`]).
pub(crate) fn fit(
    level: Option<CudaVersion>,
    version: Option<&DriverVersion>,
    build: CudaVersion,
    req: Option<&DriverRequirement>,
) -> DriverFit {
    if let (Some(v), Some(r)) = (version, req)
        && *v < r.floor
    {
        return DriverFit::TooOld;
    }
    let full_by_version = version.zip(req.and_then(|r| r.full.as_ref())).is_some_and(|(v, f)| v >= f);
    match level {
        Some(l) if l >= build => DriverFit::Full,
        Some(l) if l.major < build.major => DriverFit::TooOld,
        Some(_) if full_by_version => DriverFit::Full,
        Some(_) => DriverFit::MinorCompatible,
        None => match (version, req) {
            (Some(_), Some(_)) if full_by_version => DriverFit::Full,
            (Some(_), Some(_)) => DriverFit::MinorCompatible,
            _ => DriverFit::Unknown,
        },
    }
}

/// The newest CUDA major whose floor a driver version meets (for a driver that reports no
/// CUDA level); None when it meets none. Also the lowest major the data knows, for "below".
pub(crate) fn highest_major(data: &CompatData, version: &DriverVersion, driver_os: Os) -> (Option<u32>, Option<u32>) {
    let met = data.variants().filter(|v| v.floor.version.get(driver_os) <= version).map(|v| v.cuda.major).max();
    (met, data.variants().map(|v| v.cuda.major).min())
}

/// The floor of builds of CUDA `major` for a driver of `driver_os` ("525.60.13"): the text
/// the diagnoses' fixes show as `{driver_floor_cu12}`.
pub(crate) fn floor_of_major(data: &CompatData, major: u32, driver_os: Os) -> Option<String> {
    let v = data.newest_variant_of_major(major)?;
    Some(v.floor.version.get(driver_os).to_string())
}

/// [`fit`] for texts as facts hold them (driver "581.29", its CUDA level "13.0", the
/// build's CUDA "12.4"), judged with the bundled data; unreadable texts count as unknown.
pub(crate) fn fit_of_texts(driver_version: Option<&str>, level: Option<&str>, build: &str, driver_os: Os) -> DriverFit {
    let Ok(build) = build.trim().parse::<CudaVersion>() else { return DriverFit::Unknown };
    let level = level.and_then(|l| l.trim().parse::<CudaVersion>().ok());
    let version = driver_version.and_then(|v| v.parse::<DriverVersion>().ok());
    let req = CompatData::bundled().ok().and_then(|d| requirement(d, build, driver_os));
    fit(level, version.as_ref(), build, req.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> CudaVersion {
        s.parse().unwrap()
    }

    fn req(floor: &str, full: Option<&str>) -> DriverRequirement {
        DriverRequirement { floor: floor.parse().unwrap(), full: full.map(|f| f.parse().unwrap()), assumed_from: None }
    }

    #[test]
    fn the_rule() {
        use DriverFit::*;
        let r124 = req("525.60.13", Some("550.54.15"));
        let v = |s: &str| s.parse::<DriverVersion>().unwrap();
        // Level known.
        assert_eq!(fit(Some(c("13.0")), None, c("12.4"), None), Full);
        assert_eq!(fit(Some(c("12.4")), None, c("12.4"), None), Full);
        assert_eq!(fit(Some(c("12.2")), None, c("12.4"), None), MinorCompatible);
        assert_eq!(fit(Some(c("12.9")), None, c("13.0"), None), TooOld);
        // The floor is a hard limit.
        assert_eq!(fit(Some(c("12.2")), Some(&v("520.1")), c("12.4"), Some(&r124)), TooOld);
        // Version only: the rows decide.
        assert_eq!(fit(None, Some(&v("536.23")), c("12.4"), Some(&r124)), MinorCompatible);
        assert_eq!(fit(None, Some(&v("551.0")), c("12.4"), Some(&r124)), Full);
        assert_eq!(fit(None, Some(&v("470.1")), c("12.4"), Some(&r124)), TooOld);
        assert_eq!(fit(None, None, c("12.4"), Some(&r124)), Unknown);
        assert_eq!(fit(None, Some(&v("551.0")), c("12.4"), None), Unknown);
    }

    #[test]
    fn bundled_rows_and_unknown_variants() {
        let data = CompatData::bundled().unwrap();
        let known = requirement(data, c("12.4"), Os::Linux).unwrap();
        assert_eq!(known.floor.as_str(), "525.60.13");
        assert!(known.full.is_some() && known.assumed_from.is_none());
        let windows = requirement(data, c("12.4"), Os::Windows).unwrap();
        assert_eq!(windows.floor.as_str(), "528.33");
        // A variant the data does not list borrows its major's floor, never a full driver.
        let unknown = requirement(data, c("12.5"), Os::Linux).unwrap();
        assert_eq!(unknown.floor.as_str(), "525.60.13");
        assert_eq!(unknown.full, None);
        assert!(unknown.assumed_from.is_some());
        assert_eq!(driver_os(Os::Linux, true), Os::Windows);
        let v = |s: &str| s.parse::<DriverVersion>().unwrap();
        assert_eq!(highest_major(data, &v("470.86"), Os::Linux), (Some(11), Some(11)));
        assert_eq!(highest_major(data, &v("581.29"), Os::Windows).0, Some(13));
        assert_eq!(highest_major(data, &v("390.157"), Os::Linux), (None, Some(11)));
        assert_eq!(floor_of_major(data, 12, Os::Windows).as_deref(), Some("528.33"));
        assert_eq!(floor_of_major(data, 13, Os::Linux).as_deref(), Some("580.65.06"));
        assert_eq!(fit_of_texts(Some("536.23"), None, "12.4", Os::Windows), DriverFit::MinorCompatible);
        assert_eq!(fit_of_texts(Some("garbage"), Some("x"), "12.4", Os::Linux), DriverFit::Unknown);
    }

    /// One rule, every former decider: the same (driver, reported CUDA level, build) rows
    /// through the planner's driver criterion, `describe` (detect, the Check screen, the
    /// doctor report's torch line), the doctor's CUDA-stack table and the diagnoses'
    /// `facts.driver-too-old`. They used to disagree (detect compared major.minor, doctor and
    /// the diagnoses only majors, the diagnoses with their own copy of the floors).
    #[test]
    fn every_decider_agrees_with_the_rule() {
        use crate::diagnose::{OsContext, diagnose_facts};
        use crate::facts::{Driver, Facts};
        use crate::plan::{Request, plan};
        use crate::smoke::doctor::CudaStack;
        use DriverFit::*;
        let base: Facts =
            serde_json::from_str(include_str!("../../tests/fixtures/facts/linux-rtx3050-580-torch28-cu128.json"))
                .unwrap();
        let data = CompatData::bundled().unwrap();
        let table: [(&str, Option<&str>, &str, bool, DriverFit); 9] = [
            ("580.95.05", Some("13.0"), "12.8", false, Full),
            ("536.23", Some("12.2"), "12.4", false, MinorCompatible),
            ("536.23", Some("12.2"), "13.0", false, TooOld),
            ("470.86", Some("11.4"), "12.4", false, TooOld),
            ("470.86", None, "12.4", false, TooOld),
            ("551.86", None, "12.4", false, Full),
            ("536.23", None, "12.4", false, MinorCompatible),
            // Windows' 12.x floor is 528.33 (527.41 was the diagnoses' old copy): under WSL
            // the Windows table decides.
            ("527.41", None, "12.1", true, TooOld),
            ("528.33", None, "12.1", true, MinorCompatible),
        ];
        for (version, level, build, wsl, want) in table {
            let row = format!("driver {version} (CUDA {level:?}) vs a CUDA {build} build, wsl={wsl}");
            let mut f = base.clone();
            f.wsl = wsl;
            f.driver = Some(Driver { version: version.into(), cuda: level.map(Into::into), source: None });
            let variant = build.parse::<CudaVersion>().unwrap().variant();
            let t = f.torch.as_mut().unwrap();
            t.cuda = Some(build.into());
            t.version = format!("2.5.1+{variant}");
            assert_eq!(fit_of_texts(Some(version), level, build, driver_os(f.os, wsl)), want, "{row}");
            // describe: detect, the Check screen and the doctor report's torch line.
            let words = crate::describe::torch_state(f.torch.as_ref().unwrap(), &f);
            assert_eq!(words.contains("too old"), want == TooOld, "{row}: {words}");
            assert_eq!(words.contains("minor-version compatibility"), want == MinorCompatible, "{row}: {words}");
            // The doctor's CUDA-stack table.
            assert_eq!(CudaStack::from_parts(&f, None).driver_runs_wheel, want.runs(), "{row}");
            // The diagnoses.
            let ids: Vec<String> = diagnose_facts(&f, &OsContext::from_facts(&f)).into_iter().map(|d| d.id).collect();
            assert_eq!(ids.iter().any(|i| i == "F09"), want == TooOld, "{row}: {ids:?}");
            // The planner's driver criterion for that variant (when the data lists it).
            if data.variant(&variant).is_some() {
                let req = Request { variant: Some(variant.clone()), force: true, ..Request::default() };
                let p = plan(&f, &req, data, None);
                let c = p.candidates.iter().find(|c| c.variant == variant).unwrap_or_else(|| panic!("{row}: no row"));
                assert_eq!(c.driver_ok, Some(want != TooOld), "{row}: {:?}", c.reasons);
            }
        }
    }
}
