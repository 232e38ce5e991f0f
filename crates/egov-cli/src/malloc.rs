//! glibc's allocator raises its mmap threshold after the first large buffer is
//! freed, so later request bodies (up to 10 MiB each) come from the heap and stay
//! there after they are freed: under the abuse benchmark `egov ingest` peaked at
//! 376 MiB, and at 135 MiB with the threshold fixed. glibc reads the setting
//! only as the process starts (and setting it in code needs `unsafe`), so a
//! service re-executes itself once with `MALLOC_MMAP_THRESHOLD_` set, unless the
//! operator chose a value already.

/// The variable glibc reads; a fixed value also turns off its dynamic raising.
const VARIABLE: &str = "MALLOC_MMAP_THRESHOLD_";

/// Buffers of this size and more are mapped on their own and returned to the
/// system when freed (glibc's initial default, kept fixed).
const THRESHOLD_BYTES: &str = "131072";

/// Replaces this process by itself with the threshold set (same pid, arguments
/// and `argv[0]`). Returns only when nothing was to be done or `exec` failed; a
/// failure leaves glibc's default, which works, with more memory under abuse.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn pin_mmap_threshold() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os(VARIABLE).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    let error = command.args(args).env(VARIABLE, THRESHOLD_BYTES).exec();
    eprintln!("warning: running with glibc's dynamic mmap threshold: could not re-execute with {VARIABLE} set: {error}");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn pin_mmap_threshold() {}
