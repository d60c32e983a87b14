//! Faults at every stage of `torchup install`, as a user meets them: a dead or mistyped
//! index, a server dying mid-file, a corrupted download, Ctrl-C / a closed terminal /
//! `timeout` (INT, HUP, TERM) during the download and during the swap, a SIGKILL mid-swap,
//! a full disk and two runs at once. The real binary, real pip, a real HTTP index on
//! 127.0.0.1; only the GPU and the multi-GB wheels are stand-ins.
//!
//! The rule every case checks: afterwards the environment imports a working torch (the
//! previous build or the requested one), its files match their RECORD byte for byte, and
//! no process torchup started is left running — or, only after SIGKILL mid-swap, the next
//! command names the previous build and `torchup rollback` restores it.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::gpu::FakeGpu;
use support::index::Fault;
use support::proc::Output;

const LIMIT: Duration = Duration::from_secs(180);

/// Makes pip's offline install step (the swap) slow inside the test venv, so a signal lands
/// in the middle of it: a `sitecustomize` that sleeps in `pip install --no-index`.
/// With `TORCHUP_TEST_FILL=<file>` it instead fills the disk holding that file, leaving
/// 1 MiB (root may use the reserved blocks too), as another program would.
const SLOW_SWAP: &str = "import os, sys, time\n\
swap = 'install' in sys.orig_argv and '--no-index' in sys.orig_argv\n\
if swap and os.environ.get('TORCHUP_TEST_SLOW_SWAP'):\n    \
    open(os.environ['TORCHUP_TEST_SLOW_SWAP'], 'w').close()\n    time.sleep(60)\n\
if swap and os.environ.get('TORCHUP_TEST_FILL'):\n    \
    p = os.environ['TORCHUP_TEST_FILL']; st = os.statvfs(os.path.dirname(p))\n    \
    fd = os.open(p, os.O_CREAT | os.O_WRONLY); os.posix_fallocate(fd, 0, max(1, st.f_bfree * st.f_frsize - (1 << 20))); os.close(fd)\n\
if swap and os.environ.get('TORCHUP_TEST_ENOSPC'):\n    \
    import errno, shutil\n    \
    left = [int(os.environ['TORCHUP_TEST_ENOSPC'])]\n    \
    def copyfileobj(src, dst, length=0):\n        \
        while True:\n            \
            buf = src.read(1 << 16)\n            \
            if not buf:\n                return\n            \
            if left[0] < len(buf):\n                \
                open(os.environ['TORCHUP_TEST_ENOSPC_HIT'], 'w').close()\n                \
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n            \
            left[0] -= len(buf)\n            dst.write(buf)\n    \
    shutil.copyfileobj = copyfileobj\n";

/// Checks every installed file of the torch family against its RECORD (sha256), and prints
/// the mismatches; exit 0 when all match.
const RECORD_CHECK: &str = r#"
import base64, csv, hashlib, os, sys, importlib.metadata as md
bad = 0
for name in ("torch", "torchvision", "torchaudio"):
    try:
        d = md.distribution(name)
    except md.PackageNotFoundError:
        continue
    base = d.locate_file("")
    rec = d.read_text("RECORD") or ""
    for row in csv.reader(rec.splitlines()):
        if len(row) < 2 or not row[1]:
            continue
        algo, want = row[1].split("=", 1)
        p = os.path.join(str(base), row[0])
        try:
            got = base64.urlsafe_b64encode(hashlib.new(algo, open(p, "rb").read()).digest()).rstrip(b"=").decode()
        except OSError:
            got = None
        if got != want:
            bad += 1
            print("mismatch", row[0])
print("checked", bad)
sys.exit(1 if bad else 0)
"#;

struct World {
    laptop: support::laptop::CpuLaptop,
    /// `pip freeze` before anything ran.
    before: String,
    /// The slow-swap marker file (exists once pip's install step started).
    marker: PathBuf,
}

impl World {
    fn new(variants: &[&str]) -> World {
        let laptop = support::laptop::CpuLaptop::new("torchup faults ", variants);
        let site = laptop.venv.site_packages(&laptop.iso).unwrap();
        std::fs::write(site.join("sitecustomize.py"), SLOW_SWAP).unwrap();
        let before = laptop.venv.pip(&laptop.iso, &["freeze"]).unwrap().stdout;
        let marker = laptop.iso.path("slow-swap-started");
        World { laptop, before, marker }
    }

    fn command(&self, args: &[&str]) -> Command {
        let l = &self.laptop;
        let mut cmd = l.iso.command(env!("CARGO_BIN_EXE_torchup"));
        cmd.args(args)
            .arg("--python")
            .arg(&l.venv.python)
            .env("TORCHUP_FAKE_GPU", FakeGpu::rtx3050_laptop().to_json())
            .env("TORCHUP_NVIDIA_SMI", support::laptop::rtx3050_smi())
            .env("NO_COLOR", "1")
            .current_dir(l.iso.root());
        if !args.iter().any(|a| a.starts_with("--index-url")) {
            cmd.arg("--index-url").arg(l.index.base_url());
        }
        cmd
    }

    fn torchup(&self, args: &[&str]) -> Output {
        support::proc::run(&mut self.command(args), LIMIT).unwrap()
    }

    fn install_args(variant: &str) -> Vec<&str> {
        vec!["install", "--yes", "--json", "--variant", variant, "--torch", "2.5.1"]
    }

    /// Start `torchup install` in the background with stdout/stderr piped.
    fn spawn_install(&self, extra_env: &[(&str, &str)]) -> (Child, std::sync::mpsc::Receiver<String>) {
        let mut cmd = self.command(&Self::install_args("cu124"));
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        (child, rx)
    }

    fn torch_in_venv(&self) -> String {
        let l = &self.laptop;
        let o = l.venv.run_code_bare(&l.iso, "import torch; print(torch.__version__, torch.version.cuda)").unwrap();
        if o.success() { o.stdout.trim().to_string() } else { format!("absent: {}", o.stderr.trim()) }
    }

    /// The previous build is back (or untouched) exactly as it was.
    fn assert_previous_exactly(&self) {
        assert_eq!(self.torch_in_venv(), "2.5.1+cpu None");
        let l = &self.laptop;
        assert_eq!(l.venv.pip(&l.iso, &["freeze"]).unwrap().stdout, self.before, "the same distributions as before");
        let check = l.venv.run_code_bare(&l.iso, RECORD_CHECK).unwrap();
        assert!(check.success(), "RECORD mismatch after the fault:\n{}{}", check.stdout, check.stderr);
        self.assert_no_leftovers();
    }

    fn assert_no_leftovers(&self) {
        let venv_dir = self.laptop.venv.root.display().to_string();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = processes_mentioning(&venv_dir);
            if left.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "processes left behind: {left:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn journals(&self) -> Vec<Value> {
        let dir = self.laptop.iso.state_dir().join("journals");
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
            .collect()
    }
}

fn report(o: &Output) -> Value {
    serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}\nstderr:\n{}", o.stdout, o.stderr))
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) && !text.contains("cargo") {
                found.push(text);
            }
        }
    }
    found
}

fn wait_for(rx: &std::sync::mpsc::Receiver<String>, what: &str, needle: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let hit = needle(&line);
                seen.push(line);
                if hit {
                    return seen;
                }
            }
            Err(_) => panic!("{what} never came; stderr so far:\n{}", seen.join("\n")),
        }
    }
}

fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

#[test]
fn a_dead_or_mistyped_index_changes_nothing() {
    let w = World::new(&["cu124"]);
    // Nothing listens on port 9 of loopback (discard is never served in test sandboxes).
    let dead = w.torchup(&[
        "install",
        "--yes",
        "--json",
        "--index-url",
        "http://127.0.0.1:9/whl",
        "--variant",
        "cu124",
        "--torch",
        "2.5.1",
    ]);
    assert_eq!(code(&dead), 1, "{}\n{}", dead.stdout, dead.stderr);
    assert_eq!(report(&dead)["outcome"], "unchanged", "{}", dead.stdout);
    w.assert_previous_exactly();
    // A typo in the path: every page is a 404 on a server that answers.
    let typo = format!("{}/wrong", w.laptop.index.base_url());
    let o = w.torchup(&[
        "install",
        "--yes",
        "--json",
        "--force",
        "--index-url",
        &typo,
        "--variant",
        "cu124",
        "--torch",
        "2.5.1",
    ]);
    assert_eq!(code(&o), 1, "{}\n{}", o.stdout, o.stderr);
    let r = report(&o);
    assert_eq!(r["outcome"], "unchanged", "{r}");
    assert!(r["environment"].as_str().unwrap().contains("Nothing was changed"), "{r}");
    w.assert_previous_exactly();
    assert!(w.journals().is_empty(), "no journal is left for a run that changed nothing");
}

#[test]
fn a_server_dying_mid_file_is_resumed_and_a_corrupt_file_is_refused() {
    let w = World::new(&["cu124"]);
    let wheel = "/whl/cu124/torch-2.5.1+cu124-*";
    // Every connection dies after 2 KiB: the fetcher resumes with Range until it has it all.
    w.laptop.index.fault_times(wheel, Fault::CloseAfter(2048), 3);
    let o = w.torchup(&World::install_args("cu124"));
    assert_eq!(code(&o), 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(w.torch_in_venv(), "2.5.1+cu124 12.4");
    w.assert_no_leftovers();

    // Back to the CPU build from the wheelhouse... is not the point here: a fresh world
    // whose download is corrupted every time must stop before any change.
    let w = World::new(&["cu124"]);
    w.laptop.index.fault(wheel, Fault::Garbage);
    let o = w.torchup(&World::install_args("cu124"));
    assert_eq!(code(&o), 1, "{}\n{}", o.stdout, o.stderr);
    let r = report(&o);
    assert_eq!(r["outcome"], "unchanged", "{r}");
    assert!(r["environment"].as_str().unwrap().contains("SHA-256"), "{r}");
    w.assert_previous_exactly();
    let cache = w.torchup(&["cache", "list", "--json"]);
    assert!(!cache.stdout.contains("torch-2.5.1+cu124"), "nothing unverified is kept: {}", cache.stdout);
}

#[cfg(unix)]
#[test]
fn int_term_and_hup_during_the_download_change_nothing() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let w = World::new(&["cu124"]);
        w.laptop.index.fault("/whl/cu124/torch-2.5.1+cu124-*", Fault::Throttle(2048));
        let (child, rx) = w.spawn_install(&[]);
        wait_for(&rx, "the fetch stage", |l| l.contains("] fetch:"));
        std::thread::sleep(Duration::from_millis(700));
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        let r: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("signal {sig}: no report ({e}): {}", String::from_utf8_lossy(&out.stdout)));
        assert_eq!(out.status.code(), Some(1), "signal {sig}");
        assert_eq!(r["outcome"], "cancelled", "signal {sig}: {r}");
        w.assert_previous_exactly();
        assert!(w.journals().is_empty(), "signal {sig}: the journal is closed");
    }
}

#[cfg(unix)]
#[test]
fn int_term_and_hup_during_the_swap_put_the_previous_build_back() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let w = World::new(&["cu124"]);
        let marker = w.marker.display().to_string();
        let (child, _rx) = w.spawn_install(&[("TORCHUP_TEST_SLOW_SWAP", marker.as_str())]);
        wait_for_file(&w.marker);
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        let r: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("signal {sig}: no report ({e}): {}", String::from_utf8_lossy(&out.stdout)));
        assert_eq!(out.status.code(), Some(1), "signal {sig}");
        assert_eq!(r["outcome"], "cancelled", "signal {sig}: {r}");
        assert!(r["environment"].as_str().unwrap().contains("installed again"), "signal {sig}: {r}");
        w.assert_previous_exactly();
        assert!(w.journals().is_empty(), "signal {sig}: the journal is closed");
    }
}

#[cfg(unix)]
#[test]
fn sigkill_mid_swap_is_named_by_the_next_command_and_rollback_restores_it() {
    let w = World::new(&["cu124"]);
    let marker = w.marker.display().to_string();
    let (mut child, _rx) = w.spawn_install(&[("TORCHUP_TEST_SLOW_SWAP", marker.as_str())]);
    wait_for_file(&w.marker);
    signal(&child, libc::SIGKILL);
    let _ = child.wait();
    // pip, started by the killed torchup, does not outlive it.
    w.assert_no_leftovers();
    let journals = w.journals();
    assert_eq!(journals.len(), 1, "the journal survives the kill");
    assert_eq!(journals[0]["stage"], "install");

    // Every command names it; install refuses to start over it.
    let v = w.torchup(&["verify"]);
    assert!(
        v.stderr.contains("an install was interrupted at 'install'; the previous build was torch 2.5.1+cpu"),
        "{}",
        v.stderr
    );
    let again = w.torchup(&World::install_args("cu124"));
    assert_eq!(code(&again), 1, "{}", again.stderr);
    assert!(again.stderr.contains("torchup rollback") || again.stdout.contains("torchup rollback"), "{}", again.stderr);

    // The way out, offline: rollback puts back exactly what was there.
    let o = w.torchup(&["rollback", "--yes", "--json"]);
    assert_eq!(code(&o), 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(report(&o)["outcome"], "rolled-back");
    w.assert_previous_exactly();
    assert!(w.journals().is_empty());
    assert!(!w.torchup(&["verify"]).stderr.contains("interrupted"));
}

#[cfg(unix)]
#[test]
fn resume_finishes_an_install_killed_mid_swap_without_downloading_again() {
    let w = World::new(&["cu124"]);
    let marker = w.marker.display().to_string();
    let (mut child, _rx) = w.spawn_install(&[("TORCHUP_TEST_SLOW_SWAP", marker.as_str())]);
    wait_for_file(&w.marker);
    signal(&child, libc::SIGKILL);
    let _ = child.wait();
    w.laptop.index.clear_requests();
    let o = w.torchup(&["install", "--resume", "--yes", "--json"]);
    assert_eq!(code(&o), 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(report(&o)["outcome"], "installed");
    assert_eq!(w.torch_in_venv(), "2.5.1+cu124 12.4");
    let wheels: Vec<String> = w.laptop.index.requests().into_iter().filter(|p| p.ends_with(".whl")).collect();
    assert!(wheels.is_empty(), "the wheelhouse served the resume: {wheels:?}");
    assert!(w.journals().is_empty());
}

#[cfg(unix)]
#[test]
fn a_second_install_on_the_same_environment_waits_its_turn() {
    let w = World::new(&["cu124"]);
    let marker = w.marker.display().to_string();
    let (child, _rx) = w.spawn_install(&[("TORCHUP_TEST_SLOW_SWAP", marker.as_str())]);
    wait_for_file(&w.marker);
    let second = w.torchup(&World::install_args("cu124"));
    assert_eq!(code(&second), 1, "{}\n{}", second.stdout, second.stderr);
    assert!(second.stderr.contains("another torchup (pid"), "{}", second.stderr);
    assert!(second.stderr.contains("--wait"), "{}", second.stderr);
    // verify still runs, and says so.
    let v = w.torchup(&["verify"]);
    assert!(v.stderr.contains("another torchup"), "{}", v.stderr);
    signal(&child, libc::SIGINT);
    let _ = child.wait_with_output();
    w.assert_previous_exactly();
}

/// A full disk during the swap: the venv lives on its own small file system (an ext4 loop
/// image), and another program fills it just as pip starts writing. Where a loop file system
/// cannot be mounted (not root, or a container without loop devices), pip's file writes fail
/// with ENOSPC after 4 MiB instead (its `shutil.copyfileobj`, in the venv's sitecustomize):
/// the same "[Errno 28] No space left on device" from the same pip, so the test never passes
/// without running.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_during_the_swap_puts_the_previous_build_back() {
    let iso = support::env::Isolated::with_prefix("torchup disk ").unwrap();
    let image = iso.path("disk.img");
    let mnt = iso.path("small disk");
    std::fs::create_dir_all(&mnt).unwrap();
    // Sparse: the 8 GiB image takes no room until written (the preflight's estimate for a
    // CUDA build is ~7 GB, so the disk must look big enough to start).
    let ok = |c: &mut Command| c.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mounted = root
        && ok(Command::new("truncate").args(["-s", "8G"]).arg(&image))
        && ok(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&image))
        && ok(Command::new("mount").args(["-o", "loop"]).arg(&image).arg(&mnt));
    if !mounted {
        eprintln!("a_full_disk_during_the_swap: no loop file system here; pip's writes fail with ENOSPC instead");
    }
    struct Unmount(Option<PathBuf>);
    impl Drop for Unmount {
        fn drop(&mut self) {
            if let Some(m) = &self.0 {
                let _ = Command::new("umount").arg("-l").arg(m).status();
            }
        }
    }
    let _unmount = Unmount(mounted.then(|| mnt.clone()));
    let tags = support::wheels::Tags::host().unwrap();
    for v in ["cu124", "cpu"] {
        let mut specs = support::wheels::WheelSpec::family("2.5.1", v, &tags);
        if v == "cu124" {
            specs[0].payload_mib = 16;
        }
        support::wheels::build_wheels(&iso.path(format!("idx/{v}")), &specs).unwrap();
    }
    let index = support::index::IndexServer::start(iso.path("idx")).unwrap();
    let venv = support::python::make_venv_fast(&mnt.join("venv"), &iso).unwrap();
    venv.pip_install(&iso, &index.url("cpu"), &support::laptop::CPU_FAMILY).unwrap().ok().unwrap();
    let site = venv.site_packages(&iso).unwrap();
    std::fs::write(site.join("sitecustomize.py"), SLOW_SWAP).unwrap();
    let filler = mnt.join("filler");
    let hit = iso.path("enospc-hit");
    let mut cmd = iso.command(env!("CARGO_BIN_EXE_torchup"));
    cmd.args(["install", "--yes", "--json", "--variant", "cu124", "--torch", "2.5.1", "--python"])
        .arg(&venv.python)
        .arg("--index-url")
        .arg(index.base_url())
        .env("TORCHUP_FAKE_GPU", FakeGpu::rtx3050_laptop().to_json())
        .env("TORCHUP_NVIDIA_SMI", support::laptop::rtx3050_smi());
    if mounted {
        cmd.env("TORCHUP_TEST_FILL", &filler);
    } else {
        cmd.env("TORCHUP_TEST_ENOSPC", (4u64 << 20).to_string()).env("TORCHUP_TEST_ENOSPC_HIT", &hit);
    }
    let o = support::proc::run(&mut cmd, LIMIT).unwrap();
    let r = report(&o);
    if mounted {
        assert!(filler.exists(), "the disk was filled during the swap");
    } else {
        assert!(hit.exists(), "pip ran out of space during the swap");
    }
    assert_eq!(code(&o), 1, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(r["outcome"], "rolled-back", "{r}");
    let ids: Vec<&str> = r["diagnoses"].as_array().unwrap().iter().filter_map(|d| d["id"].as_str()).collect();
    assert!(ids.contains(&"F32"), "the full disk is named (F32): {r}");
    let t = venv.run_code_bare(&iso, "import torch; print(torch.__version__)").unwrap();
    assert_eq!(t.stdout.trim(), "2.5.1+cpu", "{}", t.stderr);
    let check = venv.run_code_bare(&iso, RECORD_CHECK).unwrap();
    assert!(check.success(), "RECORD mismatch after the full disk:\n{}{}", check.stdout, check.stderr);
}
