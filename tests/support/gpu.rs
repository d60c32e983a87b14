//! The simulated machine the fake torch runs on: the TORCHUP_FAKE_GPU JSON (schema in
//! docs/testing.md), built from data instead of hand-written strings.

use serde::Serialize;

/// The variable the fake torch reads.
pub const FAKE_GPU_ENV: &str = "TORCHUP_FAKE_GPU";

/// One simulated GPU.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FakeDevice {
    pub name: String,
    pub memory_mib: u64,
    /// Compute capability [major, minor].
    pub cc: [u32; 2],
    /// fp32 throughput used for simulated kernel time.
    pub gflops: f64,
    /// Memory already used by other processes (the desktop, a browser).
    #[serde(skip_serializing_if = "is_zero")]
    pub used_mib: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl FakeDevice {
    pub fn new(name: &str, memory_mib: u64, cc: [u32; 2]) -> FakeDevice {
        FakeDevice { name: name.into(), memory_mib, cc, gflops: 5000.0, used_mib: 0 }
    }

    pub fn gflops(mut self, gflops: f64) -> FakeDevice {
        self.gflops = gflops;
        self
    }

    pub fn used_mib(mut self, used: u64) -> FakeDevice {
        self.used_mib = used;
        self
    }

    /// The guide's laptop: RTX 3050 Laptop, 4 GiB, sm_86.
    pub fn rtx3050_laptop() -> FakeDevice {
        FakeDevice::new("NVIDIA GeForce RTX 3050 Laptop GPU", 4096, [8, 6]).gflops(5500.0)
    }

    /// Pascal: dropped from cu128+ wheels of torch 2.8.
    pub fn gtx1080ti() -> FakeDevice {
        FakeDevice::new("NVIDIA GeForce GTX 1080 Ti", 11264, [6, 1]).gflops(11000.0)
    }

    /// Blackwell laptop: needs cu128 or newer.
    pub fn rtx5070_laptop() -> FakeDevice {
        FakeDevice::new("NVIDIA GeForce RTX 5070 Laptop GPU", 8151, [12, 0]).gflops(20000.0)
    }

    /// Pascal laptop part with 2 GiB.
    pub fn mx350() -> FakeDevice {
        FakeDevice::new("NVIDIA GeForce MX350", 2048, [6, 1]).gflops(1200.0)
    }
}

/// The whole simulated machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FakeGpu {
    pub devices: Vec<FakeDevice>,
    /// The highest CUDA level the driver supports ("13.0"); None = no NVIDIA driver.
    pub driver_cuda: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_gflops: Option<f64>,
    /// Multiplies every simulated duration (0.1 = ten times faster wall clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_scale: Option<f64>,
    /// "winerror126" or "winerror1114": `import torch` fails like a broken Windows install.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_error_dll: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vcredist_missing: bool,
    /// GPU kernels return garbage.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub wrong_results: bool,
    /// Extra milliseconds per GPU kernel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow_ms: Option<f64>,
    /// `import torch` sleeps this long first (a huge value simulates a hang).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_delay_ms: Option<f64>,
    /// Die by SIGSEGV at "import", "cuda_init" or the first "kernel".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crash: Option<String>,
    /// The cuDNN the process loads instead of the build's own (9.1.0 = 90100): another copy
    /// shadows it and torch raises "cuDNN version incompatibility" when it is older.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cudnn_runtime: Option<u32>,
}

impl FakeGpu {
    /// A machine with these GPUs and a driver supporting `driver_cuda`.
    pub fn new(devices: Vec<FakeDevice>, driver_cuda: &str) -> FakeGpu {
        FakeGpu {
            devices,
            driver_cuda: Some(driver_cuda.into()),
            cpu_gflops: None,
            time_scale: None,
            import_error: None,
            import_error_dll: None,
            vcredist_missing: false,
            wrong_results: false,
            slow_ms: None,
            import_delay_ms: None,
            crash: None,
            cudnn_runtime: None,
        }
    }

    /// No NVIDIA GPU and no driver (what the variable's absence also means).
    pub fn none() -> FakeGpu {
        FakeGpu { driver_cuda: None, ..FakeGpu::new(Vec::new(), "0.0") }
    }

    /// The guide's laptop with a current driver (581.29, CUDA 13.0).
    pub fn rtx3050_laptop() -> FakeGpu {
        FakeGpu::new(vec![FakeDevice::rtx3050_laptop()], "13.0")
    }

    pub fn gtx1080ti() -> FakeGpu {
        FakeGpu::new(vec![FakeDevice::gtx1080ti()], "13.0")
    }

    pub fn rtx5070_laptop() -> FakeGpu {
        FakeGpu::new(vec![FakeDevice::rtx5070_laptop()], "13.0")
    }

    /// The same devices with a driver supporting `cuda` ("12.2"), or no driver.
    pub fn driver(mut self, cuda: Option<&str>) -> FakeGpu {
        self.driver_cuda = cuda.map(String::from);
        self
    }

    pub fn cpu_gflops(mut self, g: f64) -> FakeGpu {
        self.cpu_gflops = Some(g);
        self
    }

    pub fn time_scale(mut self, s: f64) -> FakeGpu {
        self.time_scale = Some(s);
        self
    }

    /// `import torch` raises `OSError: [WinError 126] ... c10.dll ...`.
    pub fn import_error_winerror126(mut self) -> FakeGpu {
        self.import_error = Some("winerror126".into());
        self
    }

    pub fn wrong_results(mut self) -> FakeGpu {
        self.wrong_results = true;
        self
    }

    pub fn slow_ms(mut self, ms: f64) -> FakeGpu {
        self.slow_ms = Some(ms);
        self
    }

    pub fn import_delay_ms(mut self, ms: f64) -> FakeGpu {
        self.import_delay_ms = Some(ms);
        self
    }

    /// `where`: "import", "cuda_init" or "kernel".
    pub fn crash(mut self, at: &str) -> FakeGpu {
        self.crash = Some(at.into());
        self
    }

    /// Another cuDNN (version as torch encodes it: 90100 = 9.1.0) shadows the build's.
    pub fn cudnn_runtime(mut self, version: u32) -> FakeGpu {
        self.cudnn_runtime = Some(version);
        self
    }

    pub fn to_json(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_else(|e| panic!("FakeGpu serializes: {e}"))
    }

    /// `("TORCHUP_FAKE_GPU", json)`, for `Command::env` or an env list.
    pub fn env(&self) -> (String, String) {
        (FAKE_GPU_ENV.to_string(), self.to_json())
    }

    /// `("TORCHUP_FAKE_GPU", Some(json))`, for `RunSpec::envs` / `Isolated::envs()` lists.
    pub fn env_change(&self) -> (String, Option<String>) {
        (FAKE_GPU_ENV.to_string(), Some(self.to_json()))
    }
}
