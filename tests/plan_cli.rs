//! `torchup plan` as a user runs it: the binary, saved facts, an isolated environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/facts").join(format!("{name}.json"))
}

/// Run the binary with a clean environment: temp HOME and state/cache dirs, no pip settings,
/// and `--offline` so no test reaches a network index.
fn torchup(tmp: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_torchup"))
        .args(args)
        .arg("--offline")
        .env_clear()
        .env("HOME", tmp)
        .env("TORCHUP_STATE_DIR", tmp.join("state"))
        .env("TORCHUP_CACHE_DIR", tmp.join("cache"))
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        .env("NO_COLOR", "1")
        .current_dir(tmp)
        .output()
        .expect("run torchup")
}

fn json(o: &Output) -> Value {
    let text = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is one JSON document ({e}):\n{text}"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn json_plan_for_the_guide_machine() {
    let t = tmp();
    let f = fixture("win-rtx3050-581-py311-conda-cpu");
    let o = torchup(t.path(), &["plan", "--json", "--facts", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let p = json(&o);
    assert_eq!(p["schema"], 1);
    assert_eq!(p["choice"]["torch"], "2.15.0");
    assert_eq!(p["choice"]["variant"], "cu130");
    assert_eq!(p["choice"]["index_url"], "https://download.pytorch.org/whl/cu130");
    assert_eq!(p["choice"]["manager"], "pip");
    assert_eq!(p["nothing_to_do"], false);
    assert_eq!(p["data_source"], "bundled");
    assert!(p["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("unconfirmed")));
    let cands = p["candidates"].as_array().unwrap();
    for c in cands {
        assert!(c["variant"].is_string() && c["torch"].is_string() && c["ok"].is_boolean() && c["reasons"].is_array());
    }
    assert!(cands.iter().any(|c| c["variant"] == "cu124") && cands.iter().any(|c| c["variant"] == "cu121"));
    let stages: Vec<&str> = p["steps"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["fetch", "uninstall", "install", "verify"]);
    for s in p["steps"].as_array().unwrap() {
        assert!(s["argv"].is_array() && s["summary"].is_string());
    }
    assert_eq!(p["fallback"]["choice"]["variant"], "cu126");
}

#[test]
fn human_plan_shows_the_table_and_powershell_commands() {
    let t = tmp();
    let f = fixture("win-rtx3050-581-py311-conda-cpu");
    let o = torchup(t.path(), &["plan", "--facts", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("RTX 3050 Laptop = compute 8.6, driver 581.29 ≥ 580 → cu130, torch 2.15.0"), "{out}");
    assert!(out.contains("variant  torch   driver  arch  python"), "{out}");
    assert!(out.contains("  → cu130    2.15.0  ✓       ✓     ✓"), "{out}");
    assert!(out.contains("Steps (PowerShell):"), "{out}");
    assert!(out.contains("[fetch]") && out.contains("(done by torchup itself)"), "{out}");
    assert!(
        out.contains(
            r#"C:\Users\mei\miniconda3\envs\cyberpuppy\python.exe -m pip install --no-index --find-links "<wheelhouse>" torch==2.15.0+cu130 torchvision==0.30.0+cu130 torchaudio==2.11.0+cu130"#
        ),
        "{out}"
    );
    assert!(out.contains("If torch 2.15.0+cu130 fails, the planned fallback is torch 2.14.0+cu126:"));
}

#[test]
fn refused_explicit_choice_exits_1() {
    let t = tmp();
    let f = fixture("linux-gtx1080ti-535-py312-venv");
    let o = torchup(t.path(), &["plan", "--json", "--facts", f.to_str().unwrap(), "--variant", "cu130"]);
    assert_eq!(o.status.code(), Some(1));
    let p = json(&o);
    assert!(p["choice"].is_null());
    assert!(p["refused"].as_str().unwrap().contains("GTX 1080 Ti 6.1: not in cu130 list"));
    let o = torchup(t.path(), &["plan", "--facts", f.to_str().unwrap(), "--variant", "cu130"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("torchup: refused: torch 2.15.0+cu130 will not run here"));
    let o = torchup(t.path(), &["plan", "--json", "--facts", f.to_str().unwrap(), "--variant", "cu130", "--force"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json(&o)["choice"]["variant"], "cu130");
}

#[test]
fn no_cuda_possible_exits_1_and_nothing_to_do_exits_0() {
    let t = tmp();
    let o = torchup(t.path(), &["plan", "--json", "--facts", fixture("macos-arm64-py312").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(json(&o)["choice"].is_null());
    let o =
        torchup(t.path(), &["plan", "--json", "--facts", fixture("linux-rtx3050-580-torch28-cu128").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json(&o)["nothing_to_do"], true);
}

#[test]
fn bad_facts_files_are_one_line_usage_errors() {
    let t = tmp();
    let missing = t.path().join("nope.json");
    let garbage = t.path().join("garbage.json");
    std::fs::write(&garbage, "{not json").unwrap();
    let other = t.path().join("other.json");
    std::fs::write(&other, r#"{"schema": 7, "os": "linux"}"#).unwrap();
    let partial = t.path().join("partial.json");
    std::fs::write(&partial, r#"{"schema": 1, "os": "beos"}"#).unwrap();
    for (file, needle) in [
        (&missing, "cannot read the facts file"),
        (&garbage, "is not JSON"),
        (&other, "is not a torchup detect document"),
        (&partial, "is not a valid detect document"),
    ] {
        let o = torchup(t.path(), &["plan", "--facts", file.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{file:?}");
        let err = stderr(&o);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.contains(needle), "{err}");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn plan_without_facts_detects_this_machine_and_needs_a_python() {
    // No PATH at all: detection finds no interpreter, which is "environment unusable".
    let t = tmp();
    let o = torchup(t.path(), &["plan", "--json"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1, "one line: {}", stderr(&o));
}

#[test]
fn bad_flags_are_usage_errors() {
    let t = tmp();
    let f = fixture("linux-gtx1080ti-535-py312-venv");
    let f = f.to_str().unwrap();
    for (args, needle) in [
        (vec!["--variant", "cuda12"], "--variant cuda12"),
        (vec!["--index-url", "http://mirror.example/whl"], "refusing plain http index"),
        (vec!["--index-url", "ftp://mirror.example/whl"], "unsupported index URL scheme `ftp`"),
        (vec!["--with-requirements", "missing-requirements.txt"], "no such file"),
    ] {
        let mut all = vec!["plan", "--facts", f];
        all.extend(args);
        let o = torchup(t.path(), &all);
        assert_eq!(o.status.code(), Some(2), "{all:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
    }
    // A loopback mirror over plain http is fine.
    let o = torchup(t.path(), &["plan", "--json", "--facts", f, "--index-url", "http://127.0.0.1:8080/whl/"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["choice"]["index_url"], "http://127.0.0.1:8080/whl/cu126");
}

#[test]
fn a_variant_index_url_from_a_guide_is_read_from_its_base() {
    // `pip install torch --index-url …/whl/cu124`, pasted: torchup reads every variant from
    // the base and still picks what runs here (cu126 for this driver), saying so.
    let t = tmp();
    let f = fixture("linux-gtx1080ti-535-py312-venv");
    let f = f.to_str().unwrap();
    let o = torchup(
        t.path(),
        &["plan", "--json", "--facts", f, "--index-url", "http://me:s3cret@127.0.0.1:8080/whl/cu124"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["choice"]["variant"], "cu126");
    let err = stderr(&o);
    assert!(err.contains("is the cu124 build's index; using its base http://me:***@127.0.0.1:8080/whl"), "{err}");
    assert!(err.contains("--variant cu124"), "{err}");
    assert!(!err.contains("s3cret") && !String::from_utf8_lossy(&o.stdout).contains("s3cret"));
    // --variant cu124 with the same URL: the variant the URL named.
    let o = torchup(
        t.path(),
        &["plan", "--json", "--facts", f, "--variant", "cu124", "--index-url", "http://127.0.0.1:8080/whl/cu124/"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["choice"]["index_url"], "http://127.0.0.1:8080/whl/cu124");
    assert!(stderr(&o).contains("(the build is --variant cu124)"), "{}", stderr(&o));
    // Commands that do not read the index say nothing about it.
    let o = torchup(t.path(), &["explain", "--index-url", "http://127.0.0.1:8080/whl/cu124", "--", "true"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("build's index"), "{}", stderr(&o));
}

#[test]
fn requirements_path_and_constraints_file_are_absolute() {
    let t = tmp();
    std::fs::write(t.path().join("requirements.txt"), "numpy\ntorch\n").unwrap();
    let f = fixture("linux-gtx1080ti-535-py312-venv");
    let o = torchup(
        t.path(),
        &["plan", "--json", "--facts", f.to_str().unwrap(), "--with-requirements", "requirements.txt"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let p = json(&o);
    let step = p["steps"].as_array().unwrap().iter().find(|s| s["stage"] == "requirements").unwrap().clone();
    let argv: Vec<String> = step["argv"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
    let req = t.path().canonicalize().unwrap().join("requirements.txt");
    let cons = t.path().join("state").join("constraints").join("torch-constraints.txt");
    assert_eq!(
        argv[3..],
        ["install".to_string(), "-r".into(), req.display().to_string(), "-c".into(), cons.display().to_string()]
    );
    assert_eq!(step["writes"][0][0], cons.display().to_string());
    assert!(step["writes"][0][1].as_str().unwrap().contains("torch==2.14.1+cu126\n"));
    assert!(!cons.exists(), "plan changes nothing");
}

#[test]
fn credentials_in_the_index_url_are_never_shown() {
    let t = tmp();
    let f = fixture("linux-gtx1080ti-535-py312-venv");
    let f = f.to_str().unwrap();
    let url = "https://me:t0ken-s3cret@mirror.example/whl";
    for json_flag in [true, false] {
        let mut args = vec!["plan", "--facts", f, "--index-url", url];
        if json_flag {
            args.push("--json");
        }
        let o = torchup(t.path(), &args);
        let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert_eq!(o.status.code(), Some(0), "{all}");
        assert!(!all.contains("t0ken-s3cret"), "{all}");
        assert!(all.contains("https://me:***@mirror.example/whl/cu126"), "{all}");
    }
    // A refused URL does not echo the secret either.
    let o = torchup(t.path(), &["plan", "--facts", f, "--index-url", "http://me:t0ken-s3cret@mirror.example/whl"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!stderr(&o).contains("t0ken-s3cret"), "{}", stderr(&o));
}

#[test]
fn mirror_names_a_source_of_the_table_or_a_url() {
    let t = tmp();
    let f = fixture("linux-gtx1080ti-535-py312-venv");
    let f = f.to_str().unwrap();
    let o = torchup(t.path(), &["plan", "--json", "--facts", f, "--mirror", "aliyun"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["choice"]["index_url"], "https://mirrors.aliyun.com/pytorch-wheels/cu126");
    let o = torchup(t.path(), &["plan", "--json", "--facts", f, "--mirror", "https://m.example/torch/"]);
    assert_eq!(json(&o)["choice"]["index_url"], "https://m.example/torch/cu126");
    for (bad, needle) in
        [("nope", "use auto, a URL, or one of official"), ("http://m.example/whl", "refusing plain http")]
    {
        let o = torchup(t.path(), &["plan", "--facts", f, "--mirror", bad]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
        assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
    }
}
