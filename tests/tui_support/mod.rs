//! Fixture data and helpers shared by the TUI tests: the guide's machine (RTX 3050 Laptop
//! 4 GB, driver 581.29 / CUDA 13.0, compute 8.6, Python 3.11 venv, torch 2.5.1+cpu; a saved
//! facts profile) moving to the build the real planner chooses for it (torch 2.15.0+cu130),
//! plus the failures the catalog describes. Paths and timings are
//! fixed here, so snapshots need no redaction.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use torchup::compat::data::CompatData;
use torchup::diagnose::Diagnosis;
use torchup::exec::Stream;
use torchup::facts::gpu::GpuProbe;
use torchup::facts::{Driver, FactSource, Facts, Gpu, GpuState, Os, PythonCandidate, PythonFacts, TorchFacts};
use torchup::finding::Finding;
use torchup::install::stage::RunStage;
use torchup::install::{Expectation, InstallEvent, InstallReport, Outcome, StageInfo};
use torchup::plan::{Choice, Plan, Request};
use torchup::preflight::{Holder, Issue, SpaceNeed, holders_issue, space_issues};
use torchup::smoke::{Change, Check, Device, SmokeReport, TorchInfo};
use torchup::tui::{App, AppOptions, Effect, Mode, Msg, PythonProbe, Theme, VerifyOutcome, update};

pub const PY: &str = r"C:\Users\mei\cyberpuppy\.venv\Scripts\python.exe";
pub const LOG: &str = r"C:\Users\mei\AppData\Local\torchup\data\logs\torchup-install-20261124-0142-8812.log";
pub const INDEX: &str = "https://download.pytorch.org/whl";

// ---------------------------------------------------------------- facts

/// The laptop's GPU (from the saved profile).
pub fn rtx3050() -> Gpu {
    facts().gpus.remove(0)
}

pub fn driver(version: &str, cuda: &str) -> Driver {
    Driver { version: version.into(), cuda: Some(cuda.into()), source: Some(FactSource::NvidiaSmi) }
}

pub fn gpu_probe() -> GpuProbe {
    GpuProbe {
        gpus: vec![rtx3050()],
        driver: Some(driver("581.29", "13.0")),
        state: GpuState::Ready,
        nvidia_smi: Some(r"C:\Windows\System32\nvidia-smi.exe".into()),
        ..GpuProbe::default()
    }
}

/// The laptop's venv interpreter (from the saved profile).
pub fn python() -> PythonFacts {
    facts().python.expect("the profile has a Python")
}

/// The CPU build installed there (from the saved profile).
pub fn torch_cpu() -> TorchFacts {
    facts().torch.expect("the profile has torch")
}

/// Every interpreter discovery found (from the saved profile).
pub fn candidates() -> Vec<PythonCandidate> {
    facts().python_candidates
}

pub fn python_probe() -> PythonProbe {
    PythonProbe { python: Some(python()), torch: Some(torch_cpu()), candidates: candidates() }
}

/// The guide's laptop as `torchup detect --json` saved it
/// (tests/fixtures/facts/win-rtx3050-581-py311-venv-cpu.json): the facts every plan below
/// is made from.
pub fn facts() -> Facts {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/facts/win-rtx3050-581-py311-venv-cpu.json");
    let text = std::fs::read_to_string(path).expect("the saved facts profile");
    serde_json::from_str(&text).expect("the saved facts profile parses")
}

/// The same laptop with the 2021 driver from catalog F09 (470.86, CUDA 11.4).
pub fn facts_old_driver() -> Facts {
    Facts { driver: Some(driver("470.86", "11.4")), ..facts() }
}

/// A Linux laptop whose dGPU is switched off (catalog F36), torch CPU build.
pub fn facts_gpu_off() -> Facts {
    let mut py = python();
    py.executable = "/home/mei/cyberpuppy/.venv/bin/python".into();
    py.platform = "linux-x86_64".into();
    py.prefix = "/home/mei/cyberpuppy/.venv".into();
    py.uv_available = true;
    Facts {
        os: Os::Linux,
        gpus: vec![],
        driver: None,
        gpu_state: GpuState::DriverNotLoaded {
            detail: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver".into(),
        },
        python: Some(py.clone()),
        python_candidates: vec![PythonCandidate {
            path: py.executable.clone(),
            found_by: "VIRTUAL_ENV".into(),
            version: Some("3.11.9".into()),
            chosen: true,
            problem: None,
        }],
        ..facts()
    }
}

// ---------------------------------------------------------------- plans

/// What the wizard asks the planner for on this laptop.
pub fn request() -> Request {
    Request { index_url: INDEX.into(), workdir: Some(r"C:\Users\mei\cyberpuppy".into()), ..Request::default() }
}

/// The real planner over the bundled data: every plan a snapshot shows is one torchup makes.
fn planned(facts: &Facts, request: &Request) -> Plan {
    torchup::plan::plan(facts, request, CompatData::bundled().expect("the bundled data"), None)
}

/// The automatic plan for the laptop (cu130, torch 2.15.0; fallback cu126).
pub fn plan() -> Plan {
    planned(&facts(), &request())
}

/// The guide's own choice, planned explicitly.
pub fn plan_cu124() -> Plan {
    planned(&facts(), &Request { variant: Some("cu124".into()), ..request() })
}

/// Planned for driver 470.86 (CUDA 11.4): cu118 is the newest CUDA build that runs.
pub fn plan_old_driver() -> Plan {
    planned(&facts_old_driver(), &request())
}

/// The build the automatic plan chose: the install-run fixtures below describe installing it.
pub fn chosen() -> Choice {
    plan().choice.expect("the laptop gets a CUDA build")
}

// ---------------------------------------------------------------- smoke

fn check(name: &str, ok: bool, detail: &str, ms: f64) -> Check {
    Check { name: name.into(), ok, detail: detail.into(), ms }
}

pub fn smoke_ok() -> SmokeReport {
    SmokeReport {
        schema: 1,
        ok: true,
        torch: TorchInfo { version: Some("2.15.0+cu130".into()), cuda: Some("13.0".into()) },
        cuda_available: true,
        devices: vec![Device {
            name: "NVIDIA GeForce RTX 3050 Laptop GPU".into(),
            memory_mib: Some(4096),
            compute_capability: Some("8.6".into()),
            arch_supported: Some(true),
        }],
        checks: vec![
            // The names and detail shapes assets/smoke_test.py emits.
            check("import_torch", true, "torch 2.15.0+cu130 from .venv", 1840.0),
            check("cuda_build", true, "built for CUDA 13.0 (the runtime ships inside the wheel)", 0.0),
            check("cuda_available", true, "torch.cuda.is_available() = True, 1 device", 312.0),
            check("devices", true, "GPU 0: NVIDIA GeForce RTX 3050 Laptop GPU, 4096 MiB, compute capability 8.6", 2.0),
            check("arch_supported", true, "GPU 0 (sm_86): covered by sm_86", 1.0),
            check("matmul", true, "GPU 0: 1000x1000 matmul matches the CPU (relative error 2.1e-07)", 95.0),
            check(
                "fp16_autocast",
                true,
                "GPU 0: torch.amp.autocast('cuda') matmul in float16 (relative error 3.4e-04)",
                12.0,
            ),
            check("cudnn_conv", true, "cuDNN 9.10.2\nGPU 0: conv2d matches the CPU (relative error 1.1e-04)", 41.0),
            check("throughput", true, "GPU 0 3712 GFLOP/s, CPU 185 GFLOP/s: 20.1x (fp32 1024x1024 matmul)", 330.0),
        ],
        diagnoses: vec![],
        torch_importable: true,
        import_error: None,
        warnings: vec![],
        gpu_gflops: Some(3712.4),
        cpu_gflops: Some(184.6),
        cudnn: Some("9.10.2".into()),
        ..SmokeReport::default()
    }
}

pub fn smoke_cpu() -> SmokeReport {
    SmokeReport {
        ok: false,
        torch: TorchInfo { version: Some("2.5.1+cpu".into()), cuda: None },
        cuda_available: false,
        devices: vec![],
        checks: vec![
            check("import_torch", true, "torch 2.5.1+cpu from .venv", 1710.0),
            check("cuda_build", false, "CPU-only build: torch.version.cuda is None", 0.0),
        ],
        diagnoses: vec![Finding {
            id: "F01".into(),
            title: "A CPU-only build of PyTorch is installed".into(),
            explanation: String::new(),
            fix: "Install a CUDA build".into(),
        }],
        gpu_gflops: None,
        cpu_gflops: Some(181.2),
        cudnn: None,
        ..smoke_ok()
    }
}

pub fn smoke_absent() -> SmokeReport {
    SmokeReport {
        ok: false,
        torch: TorchInfo::default(),
        cuda_available: false,
        devices: vec![],
        checks: vec![check(
            "import_torch",
            false,
            "torch is not installed in this interpreter (ModuleNotFoundError: No module named 'torch')",
            38.0,
        )],
        diagnoses: vec![],
        torch_importable: false,
        import_error: Some("ModuleNotFoundError: No module named 'torch'".into()),
        gpu_gflops: None,
        cpu_gflops: None,
        cudnn: None,
        ..smoke_ok()
    }
}

/// After a driver downgrade to 470.86: the cu130 build can no longer start CUDA (F09).
pub fn smoke_driver_too_old() -> SmokeReport {
    SmokeReport {
        ok: false,
        cuda_available: false,
        devices: vec![],
        checks: vec![
            check("import_torch", true, "torch 2.15.0+cu130 from .venv", 1790.0),
            check("cuda_build", true, "built for CUDA 13.0 (the runtime ships inside the wheel)", 0.0),
            check(
                "cuda_available",
                false,
                "torch.cuda.is_available() = False\nwarning: UserWarning: CUDA initialization: The NVIDIA driver on your system is too old (found version 11040).",
                210.0,
            ),
        ],
        diagnoses: vec![Finding {
            id: "F09".into(),
            title: "The NVIDIA driver is too old for this CUDA build".into(),
            explanation: String::new(),
            fix: "Update the driver to 580 or newer, or install the cu118 build (torchup, Choose).".into(),
        }],
        warnings: vec![
            "UserWarning: CUDA initialization: The NVIDIA driver on your system is too old (found version 11040)."
                .into(),
        ],
        gpu_gflops: None,
        cpu_gflops: Some(183.0),
        ..smoke_ok()
    }
}

// ---------------------------------------------------------------- install runs

fn stages(names: &[(&str, &str)]) -> Vec<StageInfo> {
    names
        .iter()
        .enumerate()
        .map(|(index, (n, s))| StageInfo {
            index,
            stage: serde_json::from_value(serde_json::Value::String(n.to_string())).expect("a stage name"),
            summary: s.to_string(),
        })
        .collect()
}

/// The stages the engine announces for [`plan`]: the baseline smoke test, then the plan's
/// own steps in order.
pub fn stage_list() -> Vec<StageInfo> {
    let baseline = StageInfo {
        index: 0,
        stage: RunStage::Baseline,
        summary: format!("Smoke test of what is installed now ({PY})"),
    };
    std::iter::once(baseline)
        .chain(plan().steps.into_iter().enumerate().map(|(i, s)| StageInfo {
            index: i + 1,
            stage: RunStage::from(s.stage),
            summary: s.summary,
        }))
        .collect()
}

fn line(index: usize, text: &str) -> InstallEvent {
    InstallEvent::Line { index, stream: Stream::Stdout, text: text.into() }
}

fn err_line(index: usize, text: &str) -> InstallEvent {
    InstallEvent::Line { index, stream: Stream::Stderr, text: text.into() }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

pub fn previous() -> Option<TorchFacts> {
    Some(torch_cpu())
}

/// Events up to the middle of the 2.5 GB download (progress in flight).
pub fn events_until_download() -> Vec<InstallEvent> {
    vec![
        InstallEvent::Stages(stage_list()),
        InstallEvent::StageStarted { index: 0 },
        InstallEvent::StageFinished { index: 0, ok: true, elapsed: secs(2.4) },
        InstallEvent::Smoke { index: 0, expected: Expectation::Anything, met: true, report: Box::new(smoke_cpu()) },
        InstallEvent::StageStarted { index: 1 },
        InstallEvent::Progress { index: 1, label: DOWNLOAD.into(), done: 0, total: Some(2_517_600_000) },
    ]
}

const DOWNLOAD: &str = "Downloading torch 2.15.0 cu130 (3 files)";

/// The progress events of the download, to be delivered `spacing` apart.
pub fn download_progress(steps: u64) -> Vec<InstallEvent> {
    (1..=steps)
        .map(|i| InstallEvent::Progress {
            index: 1,
            label: DOWNLOAD.into(),
            done: i * 12_400_000,
            total: Some(2_517_600_000),
        })
        .collect()
}

pub fn report_installed() -> InstallReport {
    InstallReport {
        schema: 1,
        ok: true,
        outcome: Outcome::Installed,
        previous: previous(),
        installed: Some(chosen()),
        environment: format!("torch 2.15.0+cu130 is installed in {PY} and runs on the GPU."),
        restore_command: None,
        restore_commands: vec![],
        diagnoses: vec![],
        smoke: Some(smoke_ok()),
        log_path: Some(LOG.into()),
    }
}

/// The rest of a successful run after the download: the swap takes seconds.
pub fn events_finish_ok() -> Vec<InstallEvent> {
    vec![
        InstallEvent::StageFinished { index: 1, ok: true, elapsed: secs(612.0) },
        InstallEvent::StageStarted { index: 2 },
        InstallEvent::StageFinished { index: 2, ok: true, elapsed: secs(0.2) },
        InstallEvent::Smoke {
            index: 2,
            expected: Expectation::TorchAbsent,
            met: true,
            report: Box::new(smoke_absent()),
        },
        InstallEvent::StageStarted { index: 3 },
        line(3, r"Looking in links: C:\Users\mei\AppData\Local\torchup\cache\wheelhouse\links\venv-4cd5172e33caecb6"),
        line(
            3,
            r"Processing c:\users\mei\appdata\local\torchup\cache\wheelhouse\links\venv-4cd5172e33caecb6\torch-2.15.0+cu130-cp311-cp311-win_amd64.whl",
        ),
        line(3, "Installing collected packages: torch, torchvision, torchaudio"),
        line(3, "Successfully installed torch-2.15.0+cu130 torchvision-0.30.0+cu130 torchaudio-2.11.0+cu130"),
        InstallEvent::StageFinished { index: 3, ok: true, elapsed: secs(38.0) },
        InstallEvent::Smoke { index: 3, expected: Expectation::CudaWorks, met: true, report: Box::new(smoke_ok()) },
        InstallEvent::StageStarted { index: 4 },
        InstallEvent::StageFinished { index: 4, ok: true, elapsed: secs(0.3) },
        InstallEvent::Finished(Box::new(report_installed())),
    ]
}

pub fn f30() -> Diagnosis {
    Diagnosis {
        id: "F30".into(),
        title: "The download was cut short (hash mismatch)".into(),
        explanation: "The 2.51 GB wheel failed its sha256 check twice: the connection or a proxy altered it.".into(),
        fix: "Run torchup install again: it resumes the download and checks every byte; on a bad link pass --connections 1.".into(),
    }
}

/// A run whose download fails its hash check twice: stopped before any change.
pub fn events_fail_hash() -> Vec<InstallEvent> {
    vec![
        err_line(
            1,
            "torch-2.15.0+cu130-cp311-cp311-win_amd64.whl: SHA-256 mismatch after two downloads (expected 5b1d2e0c8f0f6c0e9a3d4b6a7c8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f901, got 0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d): the server or a proxy serves a different file; try another mirror with --index-url",
        ),
        InstallEvent::StageFinished { index: 1, ok: false, elapsed: secs(231.0) },
        InstallEvent::Diagnosis { index: 1, diagnosis: f30() },
        InstallEvent::Notice(
            "Stopped: torch 2.15.0 cu130 could not be fetched: torch-2.15.0+cu130-cp311-cp311-win_amd64.whl does not match the index's sha256 (downloaded twice).".into(),
        ),
        InstallEvent::Finished(Box::new(report_failed())),
    ]
}

pub fn restore_argv() -> Vec<String> {
    vec![
        PY.into(),
        "-m".into(),
        "pip".into(),
        "install".into(),
        "torch==2.5.1+cpu".into(),
        "torchvision==0.20.1+cpu".into(),
        "torchaudio==2.5.1+cpu".into(),
        "--index-url".into(),
        format!("{INDEX}/cpu"),
    ]
}

pub fn report_failed() -> InstallReport {
    InstallReport {
        ok: false,
        outcome: Outcome::Unchanged,
        installed: None,
        environment: "Stopped: torch 2.15.0 cu130 could not be fetched: torch-2.15.0+cu130-cp311-cp311-win_amd64.whl does not match the index's sha256 (downloaded twice). Your previous build torch 2.5.1+cpu is still installed, untouched.".into(),
        restore_command: None,
        restore_commands: vec![],
        diagnoses: vec![f30()],
        smoke: Some(smoke_cpu()),
        ..report_installed()
    }
}

pub fn report_rolled_back() -> InstallReport {
    InstallReport {
        ok: false,
        outcome: Outcome::RolledBack,
        environment: "torch 2.5.1+cpu is back, as before.".into(),
        restore_command: None,
        restore_commands: vec![],
        diagnoses: vec![],
        smoke: Some(smoke_cpu()),
        ..report_failed()
    }
}

/// Cancelled during the download: nothing had changed.
pub fn report_cancelled() -> InstallReport {
    InstallReport {
        outcome: Outcome::Cancelled,
        environment: "Cancelled. Your previous build torch 2.5.1+cpu is still installed, untouched.".into(),
        diagnoses: vec![],
        ..report_failed()
    }
}

/// The moved-aside build could not be put back (a locked file): the journal stays and the
/// wizard offers the rollback first.
pub fn report_broken() -> InstallReport {
    InstallReport {
        outcome: Outcome::Broken,
        environment: "Stopped: torch 2.15.0 cu130 was installed but the GPU smoke test failed. The previous build was not restored (a file is in use); No torch is installed in this environment now. Its files are kept: run `torchup rollback` to put them back, or use the command below.".into(),
        restore_command: Some(restore_argv()),
        restore_commands: vec![restore_argv()],
        diagnoses: vec![],
        smoke: Some(smoke_absent()),
        ..report_failed()
    }
}

pub fn report_dry_run() -> InstallReport {
    InstallReport {
        ok: true,
        outcome: Outcome::DryRun,
        installed: None,
        environment: "Dry run: nothing was changed; torch 2.5.1+cpu is still installed.".into(),
        smoke: None,
        ..report_installed()
    }
}

pub fn rollback_events() -> Vec<InstallEvent> {
    vec![
        InstallEvent::Stages(stages(&[("rollback", "put the previous build torch 2.5.1+cpu back")])),
        InstallEvent::StageStarted { index: 0 },
        line(0, "Found existing installation: torch 2.15.0+cu130"),
        line(0, "  Successfully uninstalled torch-2.15.0+cu130"),
        InstallEvent::StageFinished { index: 0, ok: true, elapsed: secs(1.2) },
        InstallEvent::Finished(Box::new(report_rolled_back())),
    ]
}

// ---------------------------------------------------------------- preflight

/// U01 as the real check words it: a Jupyter kernel runs from the venv (blocking on
/// Windows, a warning elsewhere).
pub fn issue_holders(windows: bool) -> Issue {
    let holder = Holder { pid: 8812, name: "python.exe".into(), exe: PY.into() };
    holders_issue(&[holder], windows).expect("one holder gives an issue")
}

/// F32 as the real check words it: 4.2 GB free on C:, 10 GB needed.
pub fn issue_space() -> Issue {
    let needs = [
        SpaceNeed {
            label: "temporary files".into(),
            path: r"C:\Users\mei\AppData\Local\Temp".into(),
            bytes: 3_000_000_000,
        },
        SpaceNeed {
            label: "the Python environment".into(),
            path: r"C:\Users\mei\cyberpuppy\.venv".into(),
            bytes: 7_000_000_000,
        },
    ];
    space_issues(&needs, |_| Some("C:".into()), |_| Some(4_200_000_000)).pop().expect("short of space")
}

// ---------------------------------------------------------------- verify

pub fn verify_unchanged() -> VerifyOutcome {
    VerifyOutcome {
        now: smoke_ok(),
        previous: Some(smoke_ok()),
        previous_when: Some("2026-11-24 01:46".into()),
        saved_to: Some(r"C:\Users\mei\AppData\Local\torchup\data\verify\last.json".into()),
        changes: vec![],
    }
}

/// After a driver downgrade to 470.86: what `smoke::compare` reports for these two runs.
pub fn verify_changed() -> VerifyOutcome {
    VerifyOutcome {
        now: smoke_driver_too_old(),
        changes: vec![
            Change::Driver {
                from: Some("581.29".into()),
                to: Some("470.86".into()),
                from_cuda: Some("13.0".into()),
                to_cuda: Some("11.4".into()),
            },
            Change::Cuda { from_ok: true, to_ok: false },
        ],
        ..verify_unchanged()
    }
}

// ---------------------------------------------------------------- harness

/// An App driven only through `update`, with a clock the test sets.
pub struct Harness {
    pub app: App,
    pub t0: Instant,
    pub effects: Vec<Effect>,
}

impl Harness {
    pub fn new(mode: Mode, theme: Theme, size: (u16, u16)) -> Harness {
        let t0 = Instant::now();
        let (app, effects) = App::new(AppOptions { theme, mode, size, python: None, index_url: INDEX.into(), now: t0 });
        Harness { app, t0, effects }
    }

    pub fn wizard() -> Harness {
        Harness::new(Mode::Wizard, Theme::FULL, (120, 40))
    }

    /// Deliver a message; remember and return the effects.
    pub fn send(&mut self, msg: Msg) -> Vec<Effect> {
        let e = update(&mut self.app, msg);
        self.effects.extend(e.clone());
        e
    }

    pub fn key(&mut self, code: crossterm::event::KeyCode) -> Vec<Effect> {
        self.send(Msg::key(code))
    }

    pub fn ch(&mut self, c: char) -> Vec<Effect> {
        self.send(Msg::char(c))
    }

    /// Set the clock to t0 + `s` seconds.
    pub fn at(&mut self, s: f64) {
        let t = self.t0 + secs(s);
        self.send(Msg::Tick(t));
    }

    pub fn events(&mut self, events: Vec<InstallEvent>) {
        for e in events {
            self.send(Msg::Install(e));
        }
    }

    /// The id of the last Plan effect.
    pub fn last_plan_id(&self) -> u64 {
        self.effects
            .iter()
            .rev()
            .find_map(|e| if let Effect::Plan { id, .. } = e { Some(*id) } else { None })
            .expect("a Plan effect was emitted")
    }

    /// Detection finished with `facts`.
    pub fn detected(&mut self, facts: Facts) {
        self.send(Msg::Gpu(Box::new(GpuProbe {
            gpus: facts.gpus.clone(),
            driver: facts.driver.clone(),
            state: facts.gpu_state.clone(),
            ..GpuProbe::default()
        })));
        self.send(Msg::Python(Box::new(PythonProbe {
            python: facts.python.clone(),
            torch: facts.torch.clone(),
            candidates: facts.python_candidates.clone(),
        })));
        self.send(Msg::Facts(Ok(Box::new(facts))));
    }

    /// Check → Choose with the browse plan answered.
    pub fn go_choose(&mut self, facts: Facts, plan: Plan) {
        self.detected(facts);
        self.key(crossterm::event::KeyCode::Enter);
        let id = self.last_plan_id();
        self.send(Msg::Plan { id, result: Ok(Box::new(plan)) });
    }

    /// The id of the last Preflight effect.
    pub fn last_preflight_id(&self) -> u64 {
        self.effects
            .iter()
            .rev()
            .find_map(|e| if let Effect::Preflight { id, .. } = e { Some(*id) } else { None })
            .expect("a Preflight effect was emitted")
    }

    /// The machine check answered with `issues`.
    pub fn checked(&mut self, issues: Vec<Issue>) -> Vec<Effect> {
        let id = self.last_preflight_id();
        self.send(Msg::Preflight { id, issues })
    }

    /// Check → Choose → Review with the recommended build, the machine check still running.
    pub fn go_review_checking(&mut self) {
        self.go_choose(facts(), plan());
        self.key(crossterm::event::KeyCode::Enter);
    }

    /// Check → Choose → Review with the recommended build; the machine check found nothing.
    pub fn go_review(&mut self) {
        self.go_review_checking();
        self.checked(vec![]);
    }

    /// … → Run (started at t = 10 s).
    pub fn go_run(&mut self) {
        self.go_review();
        self.at(10.0);
        self.key(crossterm::event::KeyCode::Enter);
    }

    pub fn render(&self, w: u16, h: u16) -> Terminal<TestBackend> {
        let mut t = Terminal::new(TestBackend::new(w, h)).expect("TestBackend never fails");
        t.draw(|f| torchup::tui::view::render(&self.app, f)).expect("TestBackend never fails");
        t
    }
}
