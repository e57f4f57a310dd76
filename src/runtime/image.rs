//! STUB until the image module lands (same API).
#![allow(dead_code, unused_variables)]
use crate::runtime::paths::Paths;
use std::path::{Path, PathBuf};
pub struct Image {
    pub layers: Vec<PathBuf>,
    pub source: String,
}
pub fn unpack_image(file: &Path, paths: &Paths) -> anyhow::Result<Image> {
    anyhow::bail!("stub")
}
