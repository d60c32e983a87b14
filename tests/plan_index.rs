//! Planning with an index snapshot: what the index lists overrides the bundled guesses, and
//! variants or releases the data does not know (a future cu134) are usable, marked assumed.

use torchup::compat::available::{DataSource, IndexSnapshot, VariantListing, WheelFile};
use torchup::compat::data::CompatData;
use torchup::facts::{Driver, Facts};
use torchup::plan::{Plan, Request, plan};

fn facts(name: &str) -> Facts {
    let path = format!("{}/tests/fixtures/facts/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn wheel(package: &str, version: &str, py: &str, abi: &str, platform: &str) -> WheelFile {
    let filename = format!("{package}-{version}-{py}-{abi}-{platform}.whl");
    WheelFile {
        url: format!("https://download-r2.pytorch.org/whl/{filename}"),
        filename,
        name: package.into(),
        version: version.into(),
        python_tag: py.into(),
        abi_tag: abi.into(),
        platform_tag: platform.into(),
        sha256: Some("0".repeat(64)),
    }
}

/// A listing with wheels for several Pythons and platforms, like the real pages.
fn listing(variant: &str, package: &str, versions: &[&str]) -> VariantListing {
    let mut files = Vec::new();
    for v in versions {
        let full = format!("{v}+{variant}");
        for py in ["cp311", "cp312", "cp313"] {
            files.push(wheel(package, &full, py, py, "manylinux_2_28_x86_64"));
            files.push(wheel(package, &full, py, py, "manylinux_2_28_aarch64"));
            files.push(wheel(package, &full, py, py, "win_amd64"));
        }
        files.push(wheel(package, &full, "cp313", "cp313t", "manylinux_2_28_x86_64"));
    }
    VariantListing { variant: variant.into(), package: package.into(), files }
}

fn snapshot(listings: Vec<VariantListing>) -> IndexSnapshot {
    let mut s = IndexSnapshot { source: Some(DataSource::Index), ..IndexSnapshot::default() };
    for l in listings {
        s.insert(l);
    }
    s
}

fn run(f: &Facts, snap: &IndexSnapshot) -> Plan {
    let req = Request { index_url: "https://download.pytorch.org/whl".into(), ..Request::default() };
    plan(f, &req, CompatData::bundled().unwrap(), Some(snap))
}

fn run_variant(f: &Facts, snap: &IndexSnapshot, variant: &str) -> Plan {
    let req = Request {
        index_url: "https://download.pytorch.org/whl".into(),
        variant: Some(variant.into()),
        ..Request::default()
    };
    plan(f, &req, CompatData::bundled().unwrap(), Some(snap))
}

fn label(p: &Plan) -> Option<String> {
    p.choice.as_ref().map(|c| format!("{}+{}", c.torch, c.variant))
}

#[test]
fn a_future_cu134_on_the_index_is_usable_and_said_to_be_assumed() {
    let f = facts("linux-rtx5070-laptop-580-py312");
    let snap = snapshot(vec![listing("cu134", "torch", &["2.16.0"]), listing("cu134", "torchvision", &["0.31.0"])]);
    // Assumed rows never outrank a build the data knows: auto stays on a known build.
    let auto = run(&f, &snap);
    assert_eq!(label(&auto).as_deref(), Some("2.15.0+cu130"), "{}", auto.explanation);
    let row = auto.candidates.iter().find(|r| r.variant == "cu134").unwrap();
    assert!(row.ok && !row.recommended && row.unconfirmed);
    // Asked for, it is planned, and every assumption is said.
    let p = run_variant(&f, &snap, "cu134");
    assert_eq!(label(&p).as_deref(), Some("2.16.0+cu134"), "{}: {:#?}", p.explanation, p.warnings);
    assert_eq!(p.data_source, "index");
    let c = p.choice.as_ref().unwrap();
    assert_eq!(c.index_url, "https://download.pytorch.org/whl/cu134");
    assert_eq!(c.torchvision.as_deref(), Some("0.31.0+cu134"));
    let row = p.candidates.iter().find(|r| r.variant == "cu134").unwrap();
    assert!(row.ok && row.recommended && row.unconfirmed);
    let all = row.reasons.join("\n");
    assert!(all.contains("driver 580.95.05 ≥ 580.65.06 (cu134 floor, Linux, as cu132)"), "{all}");
    assert!(all.contains("assumed from torch 2.15.0 cu132 (newest known CUDA 13 build)"), "{all}");
    assert!(all.contains("cp312 manylinux x86_64 wheel (index)"), "{all}");
    assert!(all.contains("torch 2.16.0 is newer than the bundled data"), "{all}");
    assert!(p.warnings.iter().any(|w| w.contains("torch 2.16.0+cu134 rests on unconfirmed data")));
}

#[test]
fn cu134_for_a_known_release_is_planned_on_request_when_the_driver_reports_cuda_13_4() {
    let mut f = facts("linux-rtx5070-laptop-580-py312");
    let snap = snapshot(vec![listing("cu134", "torch", &["2.15.0"])]);
    // Driver 580 reports CUDA 13.0: cu134 runs (minor-version compatibility) but cu130 is preferred.
    let p = run(&f, &snap);
    assert_eq!(label(&p).as_deref(), Some("2.15.0+cu130"));
    let row = p.candidates.iter().find(|r| r.variant == "cu134").unwrap();
    assert!(row.ok && row.reasons.iter().any(|r| r.contains("the full-feature driver for cu134 is not known")));
    // A driver that reports CUDA 13.4 has full features for it; still, a variant only the
    // index knows is not recommended over known ones. Asked for, it is planned.
    f.driver = Some(Driver { version: "600.10".into(), cuda: Some("13.4".into()), source: None });
    let p = run(&f, &snap);
    assert_eq!(label(&p).as_deref(), Some("2.15.0+cu132"));
    let p = run_variant(&f, &snap, "cu134");
    assert_eq!(label(&p).as_deref(), Some("2.15.0+cu134"));
    assert!(p.candidates.iter().any(|r| r.variant == "cu134" && r.ok && r.recommended));
}

#[test]
fn a_version_missing_from_the_index_is_not_chosen() {
    let f = facts("win-rtx3050-581-py311-conda-cpu");
    let snap = snapshot(vec![
        listing("cu130", "torch", &["2.13.0", "2.14.0", "2.14.1"]),
        listing("cu132", "torch", &["2.14.0", "2.14.1", "2.15.0"]),
    ]);
    let p = run(&f, &snap);
    assert_eq!(label(&p).as_deref(), Some("2.15.0+cu132"));
    // The cu130 row shows the newest cu130 build the index has.
    assert!(p.candidates.iter().any(|r| r.variant == "cu130" && r.torch == "2.14.1" && r.ok));
    let req = Request { torch: Some("2.15.0".into()), ..Request::default() };
    let pinned = plan(&f, &req, CompatData::bundled().unwrap(), Some(&snap));
    let row = pinned.candidates.iter().find(|r| r.variant == "cu130").unwrap();
    assert_eq!((row.torch.as_str(), row.python_ok), ("2.15.0", Some(false)));
    assert!(row.reasons.iter().any(|r| r == "the index lists no torch 2.15.0+cu130 wheel for cp311 win_amd64"));
    // cu126 was not asked: the bundled data still speaks for it.
    let row = p.candidates.iter().find(|r| r.variant == "cu126").unwrap();
    assert!(row.reasons.iter().any(|r| r == "cp311 win_amd64 wheel"));
}

#[test]
fn the_index_confirms_an_inferred_companion_pin() {
    let f = facts("linux-gtx1080ti-535-py312-venv");
    let bundled = plan(&f, &Request::default(), CompatData::bundled().unwrap(), None);
    assert!(bundled.warnings.iter().any(|w| w.contains("torch 2.14.1+cu126 rests on unconfirmed data")));

    let snap = snapshot(vec![
        listing("cu126", "torch", &["2.14.0", "2.14.1"]),
        listing("cu126", "torchvision", &["0.29.0", "0.29.1"]),
    ]);
    let p = run(&f, &snap);
    assert_eq!(label(&p).as_deref(), Some("2.14.1+cu126"));
    assert!(!p.warnings.iter().any(|w| w.contains("rests on unconfirmed data")), "{:#?}", p.warnings);
    let row = p.candidates.iter().find(|r| r.recommended).unwrap();
    assert!(!row.unconfirmed);
}

#[test]
fn the_index_corrects_a_companion_pin() {
    let f = facts("linux-gtx1080ti-535-py312-venv");
    let snap =
        snapshot(vec![listing("cu126", "torch", &["2.14.1"]), listing("cu126", "torchvision", &["0.29.0", "0.29.2"])]);
    let p = run(&f, &snap);
    assert_eq!(p.choice.as_ref().unwrap().torchvision.as_deref(), Some("0.29.2+cu126"));
}

#[test]
fn free_threaded_and_foreign_wheels_do_not_count() {
    let mut f = facts("linux-gtx1080ti-535-py312-venv");
    f.python.as_mut().unwrap().version = "3.13.5".into();
    let mut l = VariantListing { variant: "cu126".into(), package: "torch".into(), files: vec![] };
    l.files.push(wheel("torch", "2.14.1+cu126", "cp313", "cp313t", "manylinux_2_28_x86_64"));
    l.files.push(wheel("torch", "2.14.1+cu126", "cp313", "cp313", "win_amd64"));
    l.files.push(wheel("torch", "2.14.1+cu126", "cp313", "cp313", "manylinux_2_28_aarch64"));
    l.files.push(wheel("torch", "2.14.0+cu126", "cp313", "cp313", "manylinux_2_28_x86_64"));
    let p = run(&f, &snapshot(vec![l]));
    assert_eq!(label(&p).as_deref(), Some("2.14.0+cu126"));
}

#[test]
fn failed_pages_fall_back_to_bundled_data_and_say_so() {
    let f = facts("win-rtx3050-581-py311-conda-cpu");
    let mut snap = snapshot(vec![listing("cu126", "torch", &["2.14.1"])]);
    snap.source = Some(DataSource::Cache);
    snap.failed.insert("cu130".into(), "HTTP 503".into());
    snap.failed.insert("cu117".into(), "torch: not on the index (HTTP 404)".into());
    snap.failed.insert("cu118".into(), "torch: not on the index (HTTP 404, cached)".into());
    snap.not_found.insert(IndexSnapshot::key("cu117", "torch"));
    snap.not_found.insert(IndexSnapshot::key("cu118", "torch"));
    let p = run(&f, &snap);
    assert_eq!(p.data_source, "cache");
    // Variants a mirror does not carry are one line, not one each.
    assert_eq!(
        p.warnings.iter().filter(|w| w.contains("404")).collect::<Vec<_>>(),
        vec![
            "not on this index (HTTP 404): cu117, cu118; those builds are never recommended and install only with --force"
        ]
    );
    assert!(
        p.warnings.iter().any(
            |w| w == "the index page for cu130 could not be read (HTTP 503): its builds come from the bundled data"
        )
    );
    assert_eq!(label(&p).as_deref(), Some("2.15.0+cu130"), "cu130 still planned from bundled data");
}

#[test]
fn an_empty_snapshot_is_the_bundled_data() {
    let f = facts("win-rtx3050-581-py311-conda-cpu");
    let with = run(&f, &IndexSnapshot::default());
    let without = plan(
        &f,
        &Request { index_url: "https://download.pytorch.org/whl".into(), ..Request::default() },
        CompatData::bundled().unwrap(),
        None,
    );
    assert_eq!(with, without);
    assert_eq!(with.data_source, "bundled");
}

/// A mirror that carries only cpu, cu124 and cu121 (most mirrors carry a subset): every other
/// variant answers 404.
fn partial_mirror() -> IndexSnapshot {
    let mut snap = snapshot(vec![
        listing("cu124", "torch", &["2.4.0", "2.4.1", "2.5.0", "2.5.1", "2.6.0"]),
        listing("cu124", "torchvision", &["0.19.0", "0.19.1", "0.20.0", "0.20.1", "0.21.0"]),
        listing("cu121", "torch", &["2.4.0", "2.4.1", "2.5.0", "2.5.1"]),
        listing("cu121", "torchvision", &["0.19.0", "0.19.1", "0.20.0", "0.20.1"]),
    ]);
    for v in ["cu118", "cu126", "cu128", "cu129", "cu130", "cu132"] {
        for p in ["torch", "torchvision"] {
            snap.not_found.insert(IndexSnapshot::key(v, p));
        }
        snap.failed
            .insert(v.into(), "torch: not on the index (HTTP 404); torchvision: not on the index (HTTP 404)".into());
    }
    snap
}

#[test]
fn a_partial_mirror_recommends_and_falls_back_on_what_it_carries() {
    let f = facts("win-rtx3050-581-py311-conda-cpu");
    let p = run(&f, &partial_mirror());
    let c = p.choice.as_ref().unwrap();
    assert_eq!(format!("{}+{}", c.torch, c.variant), "2.6.0+cu124", "{}", p.explanation);
    assert_eq!(c.index_url, "https://download.pytorch.org/whl/cu124");
    let fb = p.fallback.as_ref().expect("a fallback");
    assert_eq!(fb.choice.variant, "cu121", "the fallback is on the mirror too");
    // Builds the mirror lacks are rows marked "not on this index", never recommended.
    let row = p.candidates.iter().find(|r| r.variant == "cu130").unwrap();
    assert!(!row.ok && !row.recommended);
    assert_eq!(row.reasons[0], "not on this index: it has no cu130 torch page (HTTP 404)");
    assert!(p.warnings.iter().any(|w| w.starts_with("not on this index (HTTP 404): cu118, cu126, cu128")));
    assert!(!p.warnings.iter().any(|w| w.contains("could not be read")), "{:#?}", p.warnings);
}

#[test]
fn a_build_not_on_this_index_installs_only_with_force() {
    let f = facts("win-rtx3050-581-py311-conda-cpu");
    let p = run_variant(&f, &partial_mirror(), "cu130");
    assert!(p.choice.is_none());
    let why = p.refused.as_deref().unwrap();
    assert!(why.contains("not on this index") && why.contains("--force"), "{why}");
    let req = Request {
        index_url: "https://download.pytorch.org/whl".into(),
        variant: Some("cu130".into()),
        force: true,
        ..Request::default()
    };
    let forced = plan(&f, &req, CompatData::bundled().unwrap(), Some(&partial_mirror()));
    assert_eq!(forced.choice.as_ref().map(|c| c.variant.as_str()), Some("cu130"));
    assert!(forced.warnings.iter().any(|w| w.starts_with("--force") && w.contains("not on this index")));
}

#[test]
fn an_unreadable_index_says_so_first_and_plans_from_the_bundled_data() {
    let f = facts("win-rtx3050-581-py311-conda-cpu");
    let mut snap = IndexSnapshot::default();
    snap.failed.insert("cu124".into(), "torch: timed out after 20.0s".into());
    let p = run(&f, &snap);
    assert_eq!(p.data_source, "bundled");
    assert_eq!(
        p.warnings[0],
        "planned from the bundled data: the index could not be read (torch: timed out after 20.0s)"
    );
    let text = torchup::cli::plan::render(&p, torchup::facts::Os::Windows);
    assert!(text.lines().next().unwrap().contains("the index could not be read"), "{text}");
}

#[test]
fn a_torch_without_its_torchvision_on_the_index_is_not_recommended_when_torchvision_is_installed() {
    // torch 2.15.0 is on the index, torchvision 0.30.0 is not (a real case on PyPI).
    let f = facts("win-rtx3050-581-py311-conda-cpu");
    let snap = snapshot(vec![
        listing("cu130", "torch", &["2.14.1", "2.15.0"]),
        listing("cu130", "torchvision", &["0.29.1"]),
        listing("cu132", "torch", &["2.14.1", "2.15.0"]),
        listing("cu132", "torchvision", &["0.29.1"]),
    ]);
    let p = run(&f, &snap);
    assert_eq!(label(&p).as_deref(), Some("2.14.1+cu130"), "{}", p.explanation);
    // Without torchvision installed the newest torch is fine.
    let mut bare = f.clone();
    bare.torch.as_mut().unwrap().torchvision = None;
    let p = run(&bare, &snap);
    assert_eq!(label(&p).as_deref().map(|l| &l[..6]), Some("2.15.0"));
}
