//! The wizard end to end in a real terminal: the real binary inside a tmux session (private
//! socket, 120×40), driven with `send-keys` and read with `capture-pane`, against a venv made
//! by real pip, the local index on 127.0.0.1 and a simulated RTX 3050 Laptop
//! (TORCHUP_FAKE_GPU + its recorded nvidia-smi). Only the GPU and the wheels are stand-ins.
//!
//! The binary runs as `sh -c 'torchup …; echo EXITED:$?; stty -a; sleep'`, so after it quits
//! the pane shows its exit code and the terminal modes it left behind (raw mode off), and
//! tmux says whether the alternate screen is still on. Fails without tmux (.ci/run installs it).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::gpu::FakeGpu;
use support::index::Fault;

/// How long one screen may take to show what the test waits for (a loaded 2-core machine).
const STEP: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------- tmux

/// A tmux server of our own (private socket) running one session; killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Whether tmux can be run here.
    fn available() -> bool {
        Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success())
    }

    /// A detached 120×40 session running `argv` (no shell parses it).
    fn start(argv: &[String]) -> Tmux {
        static N: AtomicUsize = AtomicUsize::new(0);
        let socket = format!("torchup-e2e-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
        let t = Tmux { socket };
        let mut args: Vec<String> =
            ["new-session", "-d", "-s", "e2e", "-x", "120", "-y", "40", "--"].iter().map(|s| s.to_string()).collect();
        args.extend(argv.iter().cloned());
        let out = t.tmux(&args);
        assert!(out.status.success(), "tmux new-session failed: {}", String::from_utf8_lossy(&out.stderr));
        t
    }

    fn tmux<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> std::process::Output {
        // -f /dev/null: none of the developer's tmux configuration.
        Command::new("tmux")
            .args(["-f", "/dev/null", "-L", &self.socket])
            .args(args)
            .env_remove("TMUX")
            .env("LC_ALL", "C.UTF-8")
            .output()
            .expect("tmux runs (checked by available())")
    }

    /// Type keys (tmux key names: "Enter", "Down", "C-c", or literal text).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "e2e"];
        args.extend_from_slice(keys);
        let out = self.tmux(&args);
        assert!(out.status.success(), "send-keys {keys:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The visible screen as text.
    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "e2e"]).stdout).into_owned()
    }

    /// A pane property (`#{alternate_on}`, `#{pane_pid}`).
    fn format(&self, f: &str) -> String {
        String::from_utf8_lossy(&self.tmux(&["display-message", "-p", "-t", "e2e", f]).stdout).trim().to_string()
    }

    /// Poll the screen until `ready` holds; panic with the screen after `limit`.
    fn wait(&self, what: &str, limit: Duration, mut ready: impl FnMut(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        let mut pause = Duration::from_millis(20);
        loop {
            let s = self.screen();
            if ready(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out after {limit:?} waiting for {what}; the screen:\n{s}");
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait(&format!("{text:?}"), STEP, |s| s.contains(text))
    }

    /// Wait until every text is on the screen at once. A capture can catch a frame half
    /// drawn (rows arrive top to bottom), so tests wait for what they check rather than
    /// checking after waiting for something else.
    fn wait_all(&self, texts: &[&str]) -> String {
        self.wait(&format!("{texts:?}"), STEP, |s| texts.iter().all(|t| s.contains(t)))
    }

    /// The exit code printed by the wrapper once torchup has quit.
    fn wait_exit(&self) -> (i32, String) {
        let s = self.wait("torchup to exit", STEP, |s| s.contains("EXITED:") && s.contains("speed"));
        let code = s
            .lines()
            .find_map(|l| l.trim().strip_prefix("EXITED:"))
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or_else(|| panic!("no exit code on the screen:\n{s}"));
        (code, s)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// After torchup has quit: the alternate screen is off and the terminal is back in cooked
/// mode with echo (what `stty -a` printed in the pane).
fn assert_terminal_restored(t: &Tmux, screen: &str) {
    assert_eq!(t.format("#{alternate_on}"), "0", "the alternate screen is still on:\n{screen}");
    let modes: Vec<&str> = screen.split_whitespace().collect();
    for mode in ["icanon", "echo", "isig"] {
        assert!(modes.contains(&mode), "the terminal is not back to {mode} (raw mode left on):\n{screen}");
        assert!(!modes.contains(&format!("-{mode}").as_str()), "-{mode} after exit:\n{screen}");
    }
}

// ---------------------------------------------------------------- the world

/// The guide's laptop (tests/support/laptop.rs), with this file's helpers.
struct World(support::laptop::CpuLaptop);

impl std::ops::Deref for World {
    type Target = support::laptop::CpuLaptop;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// A venv holding the 2.5.1 CPU family; the index serves the 2.5.1 cpu, cu124 and cu121
/// families (the guide's builds).
fn world() -> World {
    World(support::laptop::CpuLaptop::new("torchup tui ", &["cu124", "cu121"]))
}

fn smi() -> PathBuf {
    support::laptop::rtx3050_smi()
}

impl World {
    /// The environment torchup gets: only the isolated settings, PATH, a terminal type and
    /// the simulated laptop (everything else of the test's environment is dropped).
    fn env(&self) -> Vec<String> {
        let mut vars: Vec<String> =
            self.iso.envs().into_iter().filter_map(|(k, v)| v.map(|v| format!("{k}={v}"))).collect();
        vars.push(format!("PATH={}", std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())));
        vars.push("TERM=tmux-256color".into());
        vars.push("LANG=C.UTF-8".into());
        vars.push(format!("TORCHUP_FAKE_GPU={}", FakeGpu::rtx3050_laptop().to_json()));
        vars.push(format!("TORCHUP_NVIDIA_SMI={}", smi().display()));
        vars
    }

    /// `env -i … sh -c 'cd …; torchup ARGS; echo EXITED:$?; stty -a; exec sleep 600'`.
    fn wizard(&self, args: &[&str]) -> Tmux {
        let mut argv = vec!["env".to_string(), "-i".to_string()];
        argv.extend(self.env());
        argv.extend(["/bin/sh".to_string(), "-c".to_string(), WRAPPER.to_string(), "sh".to_string()]);
        argv.push(self.iso.root().display().to_string());
        argv.push(env!("CARGO_BIN_EXE_torchup").to_string());
        argv.extend(args.iter().map(|s| s.to_string()));
        argv.extend([
            "--python".to_string(),
            self.venv.python.display().to_string(),
            "--index-url".to_string(),
            self.index.base_url(),
        ]);
        Tmux::start(&argv)
    }

    /// `torch.__version__` as the venv's pip sees it ("absent" when not installed).
    fn pip_show_torch(&self) -> String {
        let o = self.venv.pip(&self.iso, &["show", "torch"]).unwrap();
        o.stdout
            .lines()
            .find_map(|l| l.strip_prefix("Version: "))
            .map(str::to_string)
            .unwrap_or_else(|| "absent".into())
    }
}

/// $1: the directory to run in; $2…: torchup and its arguments.
const WRAPPER: &str = r#"cd "$1" && shift; "$@"; code=$?; printf '\nEXITED:%s\n' "$code"; stty -a; exec sleep 600"#;

macro_rules! require_tmux {
    () => {
        // A missing tool is a failure, never a silent pass: CI (.ci/run) installs tmux.
        assert!(
            Tmux::available(),
            "tmux is not installed: the TUI end-to-end tests need it (apt install tmux; .ci/run installs it)"
        );
    };
}

// ---------------------------------------------------------------- steps

/// Check → Choose → (cursor down to cu124) → Review with the commands shown and the
/// machine checked (Proceed enabled).
fn to_review_of_cu124(t: &Tmux) {
    // Check: the GPU card and the Python verdict fill in.
    t.wait_all(&["NVIDIA GeForce RTX 3050 Laptop GPU", "Driver 581.29", "CUDA ≤ 13.0", "CPU-only build"]);
    t.keys(&["Enter"]);

    // Choose: the cursor (→) starts on the recommendation; walk it down to the guide's cu124.
    let s = t.wait_for("the guide's choice");
    let cursor = s.lines().position(|l| l.starts_with("│→")).unwrap_or_else(|| panic!("no cursor:\n{s}"));
    let cu124 = s.lines().position(|l| l.contains(" cu124  2.5.1 ")).unwrap_or_else(|| panic!("no cu124 row:\n{s}"));
    assert!(cu124 >= cursor, "the recommendation is below cu124:\n{s}");
    for _ in cursor..cu124 {
        t.keys(&["Down"]);
    }
    t.wait("the cursor on cu124", STEP, |s| s.lines().any(|l| l.starts_with("│→") && l.contains(" cu124 ")));
    t.keys(&["Enter"]);

    // Review: the exact commands; Proceed is enabled once the machine is checked.
    t.wait_all(&["Install torch 2.5.1 + cu124 with pip", "fetch", "done by torchup itself", "run these commands now"]);
    t.keys(&["PageDown"]);
    t.wait_all(&["-m pip install --no-index --find-links", "torch==2.5.1+cu124", "run these commands now"]);
}

/// The stage rows of a Run screen: (mark, name).
fn stages(screen: &str) -> Vec<(String, String)> {
    screen
        .lines()
        .filter_map(|l| {
            let cell = l.strip_prefix("│ ")?.split('│').next()?;
            let mut words = cell.split_whitespace();
            let (mark, name) = (words.next()?, words.next()?);
            ["baseline", "fetch", "uninstall", "install", "fallback", "requirements", "verify", "rollback"]
                .contains(&name)
                .then(|| (mark.to_string(), name.to_string()))
        })
        .collect()
}

/// Processes running the venv's interpreter (pip runs as `<venv>/bin/python -m pip`), from
/// the process table.
fn processes_using(venv: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return vec![] };
    dir.filter_map(|e| {
        let e = e.ok()?;
        e.file_name().to_str()?.parse::<u32>().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        let argv: Vec<String> = cmd.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        Path::new(argv.first()?).starts_with(venv).then(|| argv.join(" "))
    })
    .collect()
}

/// Through Review to Proceed, with the CUDA wheel taking a minute to arrive: returns once
/// torchup is fetching it (nothing changed yet).
fn install_stuck_downloading(w: &World) -> Tmux {
    w.index.fault("/whl/cu124/torch-2.5.1+cu124*", Fault::Delay(Duration::from_secs(60)));
    let t = w.wizard(&[]);
    to_review_of_cu124(&t);
    t.keys(&["Enter"]);
    t.wait("the fetch stage running", Duration::from_secs(60), |s| {
        stages(s).iter().any(|(m, n)| n == "fetch" && m != "✓" && m != "·")
    });
    std::thread::sleep(Duration::from_millis(500));
    t
}

/// After a cancel during the download: nothing changed and the wizard says so, the
/// terminal is restored, no process runs the venv's interpreter, real pip finds the CPU build.
fn assert_cancelled_cleanly(w: &World, t: &Tmux, s: &str) {
    assert!(s.contains("Cancelled. Your previous build torch 2.5.1+cpu is still installed, untouched."), "{s}");
    assert!(s.contains("torchup-state/logs/torchup-install-"), "the log path:\n{s}");
    assert_terminal_restored(t, s);
    let left = processes_using(&w.venv.root);
    assert!(left.is_empty(), "processes still using the venv: {left:?}");
    assert_eq!(w.pip_show_torch(), "2.5.1+cpu", "the download was stopped before anything changed");
}

// ---------------------------------------------------------------- tests

#[test]
fn the_whole_flow_installs_cu124_and_verifies_it() {
    require_tmux!();
    let w = world();
    let t = w.wizard(&[]);
    to_review_of_cu124(&t);
    t.keys(&["Enter"]);

    // Run: stages go from pending to done while the log streams; then the Result.
    let mut progress: Vec<Vec<(String, String)>> = Vec::new();
    t.wait("the result", Duration::from_secs(180), |s| {
        if s.contains("›  Run  ›") {
            let st = stages(s);
            if progress.last() != Some(&st) {
                progress.push(st);
            }
        }
        s.contains("›  Result")
    });
    assert!(
        progress.iter().any(|st| st.iter().any(|(m, _)| m == "✓") && st.iter().any(|(m, _)| m != "✓")),
        "never saw a stage done while another was still to come: {progress:?}"
    );
    t.wait_all(&[
        "PyTorch runs on your GPU.",
        "PyTorch version: 2.5.1+cu124",
        "CUDA available: True",
        "CUDA version: 12.4",
        "GPU Name: NVIDIA GeForce RTX 3050 Laptop GPU",
        "GPU computation test: PASSED",
    ]);

    // No graphical session in this terminal: "open the log" shows where it is instead.
    t.keys(&["o"]);
    t.wait_all(&["No graphical session to open it in: the log is", "torchup-state/logs/torchup-install-"]);

    // The stage list, all done.
    t.keys(&["l"]);
    let done = |s: &str| stages(s).into_iter().map(|(m, n)| format!("{m} {n}")).collect::<Vec<_>>();
    t.wait("the stage list, all done", STEP, |s| {
        s.contains("›  Run  ›") && done(s) == ["✓ baseline", "✓ fetch", "✓ uninstall", "✓ install", "✓ verify"]
    });

    // Real pip agrees.
    assert_eq!(w.pip_show_torch(), "2.5.1+cu124");

    t.keys(&["q"]);
    let (code, s) = t.wait_exit();
    assert_eq!(code, 0, "{s}");
    assert!(s.contains("torch 2.5.1 (cu124) is installed in"), "the summary after the wizard:\n{s}");
    assert_terminal_restored(&t, &s);
}

#[test]
fn ctrl_c_during_the_download_changes_nothing_and_restores_the_terminal() {
    require_tmux!();
    let w = world();
    let t = install_stuck_downloading(&w);
    t.keys(&["C-c"]);
    // The wizard says it is stopping, waits for the engine, then quits.
    let (code, s) = t.wait_exit();
    assert_eq!(code, 1, "a cancelled install is not a success:\n{s}");
    assert!(!s.contains("after the wizard closed"), "the wizard itself saw the end:\n{s}");
    assert_cancelled_cleanly(&w, &t, &s);

    // doctor describes the state.

    let mut doctor = w.iso.command(env!("CARGO_BIN_EXE_torchup"));
    doctor
        .args(["doctor", "--python"])
        .arg(&w.venv.python)
        .env("TORCHUP_FAKE_GPU", FakeGpu::rtx3050_laptop().to_json())
        .env("TORCHUP_NVIDIA_SMI", smi())
        .env("NO_COLOR", "1");
    let out = support::proc::run(&mut doctor, Duration::from_secs(60)).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", out.combined());
    assert!(out.stdout.contains("Driver 581.29"), "{}", out.stdout);
    assert!(out.stdout.contains("2.5.1+cpu"), "{}", out.stdout);
}

#[test]
fn a_second_ctrl_c_quits_at_once_and_still_leaves_no_pip_behind() {
    require_tmux!();
    let w = world();
    let t = install_stuck_downloading(&w);
    // Both at once: the second arrives before pip has stopped, so the wizard leaves first;
    // torchup then waits for the engine and reports after the terminal is restored.
    t.keys(&["C-c", "C-c"]);
    let (code, s) = t.wait_exit();
    assert_eq!(code, 1, "{s}");
    // A cancelled download stops at once, so the engine may report before the second
    // Ctrl-C is read (the wizard then sees the end itself); either way it is reported.
    assert!(s.contains("torchup: the install stopped after the wizard closed.") || s.contains("Cancelled."), "{s}");
    assert_cancelled_cleanly(&w, &t, &s);
}

#[test]
fn verify_in_a_terminal_opens_the_verify_screen_and_saves_the_result() {
    require_tmux!();
    let w = world();
    w.venv
        .pip_install(&w.iso, &w.index.url("cu124"), &["torch==2.5.1+cu124", "torchvision==0.20.1+cu124"])
        .unwrap()
        .ok()
        .unwrap();
    let t = w.wizard(&["verify"]);
    t.wait_all(&[
        "CUDA works: torch 2.5.1+cu124 on NVIDIA GeForce RTX 3050 Laptop GPU.",
        "this one is the baseline",
        "throughput      ✓",
    ]);
    // Run again: compared with the saved run.
    t.keys(&["r"]);
    // Nothing changed, or only the measured speed (the fake GPU is timed with the wall clock,
    // and a loaded test machine can move it past the noise threshold between two runs).
    let s = t.wait("the comparison", Duration::from_secs(60), |s| {
        s.contains("CUDA works")
            && s.contains("Compared with the last saved run")
            && (s.contains("Nothing changed since then.") || s.contains("changed: "))
    });
    let changed: Vec<&str> = s.lines().filter(|l| l.contains("changed: ")).collect();
    assert!(changed.iter().all(|l| l.contains("matmul throughput")), "{s}");
    t.keys(&["q"]);
    let (code, s) = t.wait_exit();
    assert_eq!(code, 0, "{s}");
    assert_terminal_restored(&t, &s);
    let history = std::fs::read_to_string(w.iso.state_dir().join("verify-history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 2, "both runs saved:\n{history}");
}
