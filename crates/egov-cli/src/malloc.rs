//! The allocator of the `egov` binary: jemalloc, for Rust and, unprefixed, for
//! the C code in the process too (librdkafka). glibc's malloc/free were 31% of
//! the process's own time in the pipeline's profile, and its arenas kept freed
//! 10 MiB request bodies (376 MiB under the abuse benchmark until its mmap
//! threshold was pinned by re-executing the process with
//! `MALLOC_MMAP_THRESHOLD_`, which jemalloc makes moot).
//!
//! jemalloc's options are built in (`.cargo/config.toml`,
//! `JEMALLOC_SYS_WITH_MALLOC_CONF`): background threads return freed pages to
//! the system after `dirty_decay_ms`, so a burst does not keep the peak
//! resident. An operator can still change them with `MALLOC_CONF`.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
