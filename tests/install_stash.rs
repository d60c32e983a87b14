//! The stash with real pip in a real venv: the fake torch family installed by pip, moved
//! aside by RECORD, another build installed by pip, then the first one restored byte for
//! byte (RECORD hashes, the `torchrun` entry point, byte-code caches) — in paths with
//! spaces, and from the journal alone as a later process would.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

use support::env::Isolated;
use support::index::IndexServer;
use support::python::{Venv, make_venv_fast};
use support::wheels::{Tags, WheelSpec, build_wheels};
use torchup::facts::TorchFacts;
use torchup::install::journal::{Journal, RunInfo};
use torchup::install::stage::RunStage;
use torchup::install::stash::{Stash, StashError, sha256_record_hash, stash_dir_for};

const FAMILY: [&str; 2] = ["torch", "torchvision"];

struct Setup {
    iso: Isolated,
    _index: IndexServer,
    cu124: String,
    venv: Venv,
    sp: PathBuf,
}

fn setup(prefix: &str) -> Result<Setup> {
    let iso = Isolated::with_prefix(prefix)?;
    let tags = Tags::host()?;
    build_wheels(&iso.path("idx/cpu"), &WheelSpec::family("2.5.1", "cpu", &tags))?;
    build_wheels(&iso.path("idx/cu124"), &WheelSpec::family("2.5.1", "cu124", &tags))?;
    let index = IndexServer::start(iso.path("idx"))?;
    let venv = make_venv_fast(&iso.path("my venv"), &iso)?;
    venv.pip_install(&iso, &index.url("cpu"), &["torch==2.5.1+cpu", "torchvision==0.20.1+cpu"])?.ok()?;
    // A byte-code cache pip did not record (an optimized import), as a user's runs leave.
    let mut cmd = iso.command(&venv.python);
    cmd.env_remove("PYTHONDONTWRITEBYTECODE").args(["-O", "-c", "import torch, torchvision"]);
    support::proc::run(&mut cmd, std::time::Duration::from_secs(60))?.ok()?;
    let sp = venv.site_packages(&iso)?;
    Ok(Setup { cu124: index.url("cu124"), _index: index, iso, venv, sp })
}

fn torchrun(venv: &Venv) -> PathBuf {
    if cfg!(windows) { venv.root.join("Scripts").join("torchrun.exe") } else { venv.root.join("bin").join("torchrun") }
}

/// Every file of the family (package dirs, dist-infos, the entry point) with its hash.
fn snapshot(s: &Setup) -> Result<BTreeMap<PathBuf, String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&s.sp)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = FAMILY.iter().any(|f| name == *f || name.starts_with(&format!("{f}-")));
        if ours {
            walk(&entry.path(), &mut out)?;
        }
    }
    let tr = torchrun(&s.venv);
    out.insert(tr.clone(), sha256_record_hash(&tr)?);
    Ok(out)
}

fn walk(p: &Path, out: &mut BTreeMap<PathBuf, String>) -> Result<()> {
    if p.is_dir() {
        for e in std::fs::read_dir(p)? {
            walk(&e?.path(), out)?;
        }
    } else {
        out.insert(p.to_path_buf(), sha256_record_hash(p)?);
    }
    Ok(())
}

fn torch_version(s: &Setup) -> Result<String> {
    Ok(s.venv.run_code_bare(&s.iso, "import torch;print(torch.__version__)")?.ok()?.stdout.trim().to_string())
}

#[test]
fn take_install_another_build_then_restore_byte_for_byte_from_the_journal() -> Result<()> {
    let s = setup("torchup stash ")?;
    let before = snapshot(&s)?;
    ensure!(
        before.keys().any(|p| p.to_string_lossy().ends_with(".opt-1.pyc")),
        "no optimized byte-code cache was written"
    );
    ensure!(torchrun(&s.venv).is_file(), "pip wrote no torchrun entry point");

    // The journal holds the plan before the first rename.
    let state = s.iso.state_dir();
    let prefix = s.venv.root.clone();
    let mut journal = Journal::create(
        &state,
        RunInfo {
            command: "torchup install --yes".into(),
            python: s.venv.python.clone(),
            prefix: prefix.clone(),
            previous: Some(TorchFacts { version: "2.5.1+cpu".into(), ..Default::default() }),
            choice: None,
        },
        RunStage::Fetch,
    )?;
    let stash_dir = stash_dir_for(&s.sp, &journal.run_id);
    let manifest = Stash::plan(&s.sp, &FAMILY, &stash_dir)?;
    journal.set_stash(&manifest)?;
    journal.update_stage(RunStage::Uninstall)?;
    let stash = Stash::execute(manifest)?;

    let out = s.venv.run_code_bare(&s.iso, "import torch")?;
    ensure!(!out.success(), "torch still imports after the stash");
    ensure!(out.stderr.contains("No module named 'torch'"), "{}", out.stderr);
    ensure!(!torchrun(&s.venv).exists(), "the entry point stayed");
    ensure!(!s.sp.join("torch").exists(), "torch/ stayed (a namespace package would import)");
    let pip_list = s.venv.pip(&s.iso, &["list", "--format=freeze"])?.ok()?.stdout;
    ensure!(!pip_list.to_lowercase().contains("torch"), "pip still sees the family:\n{pip_list}");

    // The new build, by real pip.
    journal.update_stage(RunStage::Install)?;
    s.venv.pip_install(&s.iso, &s.cu124, &["torch==2.5.1+cu124", "torchvision==0.20.1+cu124"])?.ok()?;
    ensure!(torch_version(&s)? == "2.5.1+cu124");

    // Roll back as a later process would: nothing but the journal on disk.
    drop(stash);
    let loaded = Journal::load(&state, &prefix)?.context("the journal is gone")?;
    ensure!(loaded.stage == RunStage::Install);
    ensure!(loaded.describe().contains("the previous build was torch 2.5.1+cpu"), "{}", loaded.describe());
    s.venv.pip_uninstall(&s.iso, &FAMILY)?.ok()?;
    let report = Stash::from_manifest(loaded.stash.clone().context("no stash in the journal")?).restore()?;
    ensure!(report.is_exact(), "mismatches: {:?}", report.mismatches);
    ensure!(report.leftovers.is_empty(), "{:?}", report.leftovers);
    ensure!(report.verified > 10, "only {} files verified", report.verified);
    ensure!(report.stash_left.is_none() && !stash_dir.exists(), "the stash was not removed");
    loaded.remove()?;

    let after = snapshot(&s)?;
    ensure!(before == after, "the restored files differ from the originals");
    ensure!(torch_version(&s)? == "2.5.1+cpu");
    let mut cmd = s.iso.command(torchrun(&s.venv));
    let out = support::proc::run(&mut cmd, std::time::Duration::from_secs(60))?.ok()?;
    ensure!(out.stdout.contains("torchrun (fake torch 2.5.1+cpu)"), "{}", out.stdout);
    let check = s.venv.pip(&s.iso, &["check"])?;
    ensure!(check.success(), "pip check: {}", check.combined());
    Ok(())
}

#[test]
fn restore_overwrites_a_new_build_left_in_place_and_names_its_dist_info() -> Result<()> {
    let s = setup("torchup-stash-")?;
    let before = snapshot(&s)?;
    // A stash directory that already exists (another run's) is never reused.
    std::fs::create_dir_all(stash_dir_for(&s.sp, "busy"))?;
    let err = Stash::take(&s.sp, &FAMILY, &stash_dir_for(&s.sp, "busy")).unwrap_err();
    ensure!(matches!(err, StashError::StashExists(_)), "{err}");
    ensure!(torch_version(&s)? == "2.5.1+cpu");
    let stash = Stash::take(&s.sp, &FAMILY, &stash_dir_for(&s.sp, "overwrite"))?;
    s.venv.pip_install(&s.iso, &s.cu124, &["torch==2.5.1+cu124", "torchvision==0.20.1+cu124"])?.ok()?;
    // No pip uninstall first: the restore replaces what the new build put in the same places.
    let report = stash.restore()?;
    ensure!(report.is_exact(), "mismatches: {:?}", report.mismatches);
    ensure!(torch_version(&s)? == "2.5.1+cpu");
    let names: Vec<String> =
        report.leftovers.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    ensure!(names.contains(&"torch-2.5.1+cu124.dist-info".to_string()), "{names:?}");
    for (path, hash) in &before {
        ensure!(&sha256_record_hash(path)? == hash, "{} differs", path.display());
    }
    // Two torch dist-infos now: torchup refuses to guess which files are whose.
    let err = Stash::plan(&s.sp, &["torch"], &stash_dir_for(&s.sp, "again")).unwrap_err();
    ensure!(matches!(err, StashError::Ambiguous { .. }), "{err}");
    Ok(())
}

/// Scale: a torch-sized RECORD (12 000 files in ~600 directories, 96 MB) planned, taken,
/// journaled and restored with every hash checked. Prints the times; run with
/// `cargo test --test install_stash -- --ignored --nocapture stash_scale`.
#[test]
#[ignore = "measurement, prints timings"]
fn stash_scale() -> Result<()> {
    use std::time::Instant;
    let t = tempfile::tempdir()?;
    let sp = t.path().join("lib/python3.11/site-packages");
    let mut record = String::new();
    let chunk = vec![7u8; 8192];
    for i in 0..12_000 {
        let rel = format!("torch/sub{}/mod{i}.py", i % 600);
        let p = sp.join(&rel);
        std::fs::create_dir_all(p.parent().unwrap())?;
        std::fs::write(&p, &chunk)?;
        record.push_str(&format!("{rel},{},{}\n", sha256_record_hash(&p)?, chunk.len()));
    }
    let bin = t.path().join("bin/torchrun");
    std::fs::create_dir_all(bin.parent().unwrap())?;
    std::fs::write(&bin, b"#!/bin/sh\n")?;
    record.push_str(&format!("../../../bin/torchrun,{},10\n", sha256_record_hash(&bin)?));
    record.push_str("torch-2.5.1+cpu.dist-info/RECORD,,\n");
    std::fs::create_dir_all(sp.join("torch-2.5.1+cpu.dist-info"))?;
    std::fs::write(sp.join("torch-2.5.1+cpu.dist-info/RECORD"), record)?;

    let start = Instant::now();
    let manifest = Stash::plan(&sp, &["torch"], &stash_dir_for(&sp, "scale"))?;
    let plan = start.elapsed();
    let json = serde_json::to_vec(&manifest)?;
    let start = Instant::now();
    let stash = Stash::execute(manifest)?;
    let take = start.elapsed();
    let moves = stash.manifest().moves.len();
    let start = Instant::now();
    let report = stash.restore()?;
    let restore = start.elapsed();
    ensure!(report.is_exact());
    println!(
        "stash_scale: 12001 files (96 MB): plan {plan:?}, take {take:?} ({moves} renames), restore+verify {restore:?}; manifest {} KB",
        json.len() / 1024
    );
    Ok(())
}
