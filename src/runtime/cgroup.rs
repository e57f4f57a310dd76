//! STUB until the cgroup module lands (same API).
#![allow(dead_code, unused_variables)]
use crate::runtime::paths::Paths;
use crate::runtime::report::Report;
use std::path::{Path, PathBuf};
pub enum Layout { V1, V2, Hybrid }
pub struct Host { pub layout: Layout }
impl Host {
    pub fn detect(paths: &Paths) -> anyhow::Result<Host> { anyhow::bail!("stub") }
    pub fn describe(&self) -> String { String::new() }
}
#[derive(Default, Clone, Debug)]
pub struct Limits { pub memory: Option<u64>, pub pids: Option<u64>, pub cpus: Option<f64> }
pub struct MemoryUsage { pub current: u64, pub limit: Option<u64>, pub peak: Option<u64>, pub oom_kills: u64 }
pub struct OomEvents { fd: std::os::fd::OwnedFd }
impl std::os::fd::AsFd for OomEvents { fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> { self.fd.as_fd() } }
impl OomEvents { pub fn read(&mut self) -> anyhow::Result<u64> { anyhow::bail!("stub") } }
pub struct Cgroup {}
impl Cgroup {
    pub fn create(host: &Host, name: &str, limits: &Limits, report: &mut Report) -> anyhow::Result<Cgroup> { anyhow::bail!("stub") }
    pub fn add_pid(&self, pid: i32, report: &mut Report) -> anyhow::Result<()> { anyhow::bail!("stub") }
    pub fn dirs(&self) -> Vec<PathBuf> { vec![] }
    pub fn memory(&self) -> anyhow::Result<MemoryUsage> { anyhow::bail!("stub") }
    pub fn oom_events(&self) -> anyhow::Result<OomEvents> { anyhow::bail!("stub") }
    pub fn remove(&self, report: &mut Report) -> anyhow::Result<()> { anyhow::bail!("stub") }
}
pub fn remove_dir(dir: &Path) -> anyhow::Result<()> { anyhow::bail!("stub") }
pub fn ours(host: &Host) -> Vec<PathBuf> { vec![] }
