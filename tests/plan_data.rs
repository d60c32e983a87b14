//! The bundled compatibility data says what docs/planner.md records: checked fact by fact.

use torchup::compat::arch::{ArchMatch, Capability};
use torchup::compat::data::{CompatData, Evidence};
use torchup::compat::platform::{PyVersion, WheelPlatform};

fn data() -> &'static CompatData {
    CompatData::bundled().expect("the bundled data validates")
}

fn cc(s: &str) -> Capability {
    s.parse().unwrap()
}

fn runs(torch: &str, variant: &str, platform: WheelPlatform, gpu: &str) -> bool {
    let d = data();
    let r = d.release(torch).unwrap_or_else(|| panic!("no release {torch}"));
    let b = d.build(r, variant, platform).unwrap_or_else(|| panic!("no {torch} {variant} {platform}"));
    !matches!(b.arch.run_on(cc(gpu)), ArchMatch::None)
}

#[test]
fn every_release_confirmed_on_pypi_is_listed_exactly() {
    let listed: Vec<&str> = data().releases().iter().map(|r| r.torch.as_str()).collect();
    let pypi = [
        "2.0.0", "2.0.1", "2.1.0", "2.1.1", "2.1.2", "2.2.0", "2.2.1", "2.2.2", "2.3.0", "2.3.1", "2.4.0", "2.4.1",
        "2.5.0", "2.5.1", "2.6.0", "2.7.0", "2.7.1", "2.8.0", "2.9.0", "2.9.1", "2.10.0", "2.11.0", "2.12.0", "2.12.1",
        "2.13.0", "2.14.0", "2.14.1", "2.15.0",
    ];
    assert_eq!(listed, pypi);
}

#[test]
fn python_tags_follow_pypi() {
    let d = data();
    let range = |t: &str| d.line_of(d.release(t).unwrap()).python;
    let tags = |t: &str| (range(t).min.tag(), range(t).max.tag());
    assert_eq!(tags("2.0.1"), ("cp38".into(), "cp311".into()));
    assert_eq!(tags("2.1.2"), ("cp38".into(), "cp311".into()));
    assert_eq!(tags("2.4.1"), ("cp38".into(), "cp312".into()));
    assert_eq!(tags("2.5.1"), ("cp39".into(), "cp313".into()), "no cp38 wheels for 2.5");
    assert_eq!(tags("2.8.0"), ("cp39".into(), "cp313".into()));
    assert_eq!(tags("2.9.0"), ("cp310".into(), "cp314".into()));
    assert_eq!(tags("2.14.1"), ("cp310".into(), "cp314".into()));
    assert_eq!(tags("2.15.0"), ("cp311".into(), "cp315".into()), "2.15 dropped 3.10");
    assert!(!range("2.13.0").contains(PyVersion::new(3, 15)), "PyPI overrides RELEASE.md's 3.15 for 2.13");
}

#[test]
fn variants_per_release() {
    let d = data();
    let variants = |t: &str, p: WheelPlatform| -> Vec<String> {
        let r = d.release(t).unwrap();
        let mut v: Vec<String> =
            d.line_of(r).builds.iter().filter(|b| b.platform == p).map(|b| b.variant.clone()).collect();
        v.sort();
        v
    };
    let lx = WheelPlatform::LinuxX86_64;
    assert_eq!(variants("2.0.0", lx), ["cu117", "cu118"]);
    assert_eq!(variants("2.3.1", lx), ["cu118", "cu121"]);
    assert_eq!(variants("2.5.1", lx), ["cu118", "cu121", "cu124"]);
    assert_eq!(variants("2.6.0", lx), ["cu118", "cu124", "cu126"]);
    assert_eq!(variants("2.7.1", lx), ["cu118", "cu126", "cu128"]);
    assert_eq!(variants("2.8.0", lx), ["cu126", "cu128", "cu129"]);
    assert_eq!(variants("2.11.0", lx), ["cu126", "cu128", "cu130"]);
    assert_eq!(variants("2.12.0", lx), ["cu126", "cu130", "cu132"], "cu128 removed in 2.12");
    assert_eq!(variants("2.14.1", lx), ["cu126", "cu130", "cu132"]);
    assert_eq!(variants("2.15.0", lx), ["cu130", "cu132"], "cu126 removed in 2.15");
    assert_eq!(variants("2.11.0", WheelPlatform::WindowsX86_64), ["cu126", "cu128", "cu130"]);
    assert!(variants("2.15.0", WheelPlatform::MacosArm64).is_empty());
    assert_eq!(d.line_of(d.release("2.15.0").unwrap()).pypi_linux.as_deref(), Some("cu132"));
    assert_eq!(d.line_of(d.release("2.11.0").unwrap()).pypi_linux.as_deref(), Some("cu130"));
}

#[test]
fn architecture_facts() {
    use WheelPlatform::{LinuxX86_64 as L, WindowsX86_64 as W};
    // Pascal: cu126 yes, cu128 never.
    assert!(runs("2.14.1", "cu126", L, "6.1"));
    assert!(!runs("2.8.0", "cu128", L, "6.1"));
    assert!(!runs("2.11.0", "cu128", W, "6.1"));
    // Volta: cu128 only for 2.8–2.10, never cu130.
    assert!(!runs("2.7.1", "cu128", L, "7.0"));
    assert!(runs("2.8.0", "cu128", L, "7.0"));
    assert!(runs("2.10.0", "cu128", W, "7.0"));
    assert!(!runs("2.11.0", "cu128", L, "7.0"));
    assert!(!runs("2.14.1", "cu130", L, "7.0"));
    // Blackwell consumer: cu128 from 2.7, cu130/cu132; never cu126.
    assert!(runs("2.7.0", "cu128", L, "12.0"));
    assert!(runs("2.14.1", "cu132", W, "12.0"));
    assert!(!runs("2.14.1", "cu126", L, "12.0"));
    // Kepler 3.7 only on cu117/cu118; 3.5 nowhere natively.
    assert!(runs("2.0.1", "cu117", L, "3.7"));
    assert!(!runs("2.5.1", "cu121", L, "3.7"));
    assert!(!runs("2.0.1", "cu118", L, "3.5"));
    // Ada runs sm_86; Hopper everywhere from cu118.
    assert!(runs("2.1.0", "cu121", L, "8.9"));
    assert!(runs("2.4.1", "cu118", W, "9.0"));
    // +PTX where the sources agree: Linux cu130/cu132 from 2.12, none on Windows.
    let d = data();
    let ptx = |t: &str, v: &str, p: WheelPlatform| d.build(d.release(t).unwrap(), v, p).unwrap().arch.has_ptx();
    assert!(ptx("2.12.0", "cu130", L));
    assert!(!ptx("2.12.0", "cu130", W));
    assert!(!ptx("2.11.0", "cu130", L), "2.11 cu130 PTX status is unconfirmed: not counted");
    assert!(!ptx("2.5.1", "cu124", L), "conflicting sources: not counted");
}

#[test]
fn driver_floors_and_full_drivers() {
    let d = data();
    let floor = |v: &str| {
        let x = d.variant(v).unwrap();
        (x.floor.version.linux.to_string(), x.floor.version.windows.to_string())
    };
    assert_eq!(floor("cu118"), ("450.80.02".into(), "452.39".into()));
    for v in ["cu121", "cu124", "cu126", "cu128", "cu129"] {
        assert_eq!(floor(v), ("525.60.13".into(), "528.33".into()), "{v}");
    }
    assert_eq!(floor("cu130"), ("580.65.06".into(), "580".into()));
    assert_eq!(floor("cu132"), ("580.65.06".into(), "580".into()));
    assert_eq!(d.variant("cu126").unwrap().full.version.linux.to_string(), "560.35.05");
    assert_eq!(d.variant("cu126").unwrap().full.version.windows.to_string(), "561.17");
    // Variants only exist with a known CUDA version.
    let names: Vec<&str> = d.variants().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["cu117", "cu118", "cu121", "cu124", "cu126", "cu128", "cu129", "cu130", "cu132"]);
}

#[test]
fn torchaudio_stops_at_2_11() {
    let d = data();
    assert_eq!(d.torchaudio_last.version, "2.11.0");
    for r in d.releases() {
        let past = r.version > d.release("2.11.0").unwrap().version;
        assert_eq!(r.torchaudio.is_none(), past, "torch {}", r.torch);
    }
    assert_eq!(d.release("2.0.0").unwrap().torchaudio.as_deref(), Some("2.0.1"));
    assert_eq!(d.release("2.0.0").unwrap().torchvision, "0.15.1");
    assert_eq!(d.release("2.13.0").unwrap().torchvision, "0.28.0");
}

#[test]
fn unconfirmed_rows_stay_marked() {
    let d = data();
    let r = d.release("2.15.0").unwrap();
    assert_eq!(r.evidence, Evidence::Unconfirmed);
    assert!(d.line_of(r).builds.iter().all(|b| b.evidence == Evidence::Unconfirmed));
    assert_eq!(d.release("2.14.1").unwrap().evidence, Evidence::Unconfirmed);
    let r = d.release("2.9.1").unwrap();
    assert_eq!(d.build(r, "cu129", WheelPlatform::LinuxX86_64).unwrap().evidence, Evidence::Unconfirmed);
    assert_eq!(d.build(r, "cu130", WheelPlatform::LinuxX86_64).unwrap().evidence, Evidence::Src);
    assert_eq!(d.variant("cu132").unwrap().full.evidence, Evidence::Unconfirmed);
    // conda channel: up to 2.5 only.
    assert!(d.lines().iter().all(|l| l.conda_channel == (l.minor.as_str() <= "2.5" && l.minor.len() == 3)));
}

#[test]
fn newest_known_build_per_cuda_major() {
    let d = data();
    let (r, b) = d.newest_build_of_major(13, WheelPlatform::LinuxX86_64).unwrap();
    assert_eq!((r.torch.as_str(), b.variant.as_str()), ("2.15.0", "cu132"));
    let (r, b) = d.newest_build_of_major(12, WheelPlatform::WindowsX86_64).unwrap();
    assert_eq!((r.torch.as_str(), b.variant.as_str()), ("2.14.1", "cu126"));
    assert!(d.newest_build_of_major(14, WheelPlatform::LinuxX86_64).is_none());
    let (min, _, b) = d.oldest_supported(WheelPlatform::LinuxX86_64).unwrap();
    assert_eq!((min, b.variant.as_str()), (cc("3.7"), "cu118"));
}
