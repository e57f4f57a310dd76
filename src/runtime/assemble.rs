//! STUB until the rootfs module lands (same API).
#![allow(dead_code, unused_variables)]
use crate::runtime::paths::Paths;
use std::path::PathBuf;
pub fn default_rootfs(paths: &Paths) -> anyhow::Result<PathBuf> {
    anyhow::bail!("stub")
}
pub fn tools_layer(paths: &Paths) -> anyhow::Result<PathBuf> {
    let d = paths.cache_dir.join("tools-stub");
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
