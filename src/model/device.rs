//! Choosing where the model runs.
use candle_core::Device;

use super::ModelError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    Auto,
    #[default]
    Cpu,
    Cuda,
    Metal,
}

impl std::str::FromStr for DeviceChoice {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda),
            "metal" => Ok(Self::Metal),
            other => Err(ModelError::Config(format!("unknown device {other:?} (auto, cpu, cuda, metal)"))),
        }
    }
}

/// The selected device and, when the request could not be honoured, a notice for the user.
pub struct SelectedDevice {
    pub device: Device,
    pub notice: Option<String>,
}

/// The notice of an `Auto` choice that fell back to the CPU (the window shows it translated).
pub const NO_GPU_NOTICE: &str = "no GPU available in this build or machine; running on CPU";

/// `Auto` tries CUDA, then Metal, then falls back to CPU with a notice. An explicit GPU choice that is
/// unavailable (not compiled in, or no device) is an error.
pub fn select_device(choice: DeviceChoice) -> Result<SelectedDevice, ModelError> {
    match choice {
        DeviceChoice::Cpu => Ok(SelectedDevice { device: Device::Cpu, notice: None }),
        DeviceChoice::Cuda => Device::new_cuda(0)
            .map(|device| SelectedDevice { device, notice: None })
            .map_err(|e| ModelError::Device(format!("CUDA unavailable (build with `--features cuda`): {e}"))),
        DeviceChoice::Metal => Device::new_metal(0)
            .map(|device| SelectedDevice { device, notice: None })
            .map_err(|e| ModelError::Device(format!("Metal unavailable (build with `--features metal`): {e}"))),
        DeviceChoice::Auto => {
            if let Ok(device) = Device::new_cuda(0) {
                return Ok(SelectedDevice { device, notice: None });
            }
            if let Ok(device) = Device::new_metal(0) {
                return Ok(SelectedDevice { device, notice: None });
            }
            Ok(SelectedDevice {
                device: Device::Cpu,
                notice: Some(NO_GPU_NOTICE.into()),
            })
        }
    }
}

/// Makes glibc keep freed memory for reuse instead of returning large blocks to the OS. A forward
/// pass allocates and frees many buffers of tens to hundreds of MB; with glibc's defaults each is a
/// fresh `mmap` whose pages the kernel must fault in and zero again (measured: system time 2.2 s ->
/// 0.7 s, CPU time per 10-s segment -12% on the base-size model). Call once, before running the
/// model, from a program that scores many segments. No effect on other platforms.
pub fn tune_allocator_for_inference() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; it is called before heavy allocation
        // and the values are valid for glibc.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0);
            libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        }
    }
}
