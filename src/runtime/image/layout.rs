//! Image layouts: which blobs are an image's layers, and in what order.
//!
//! - An OCI image layout: `oci-layout`, `index.json`, `blobs/sha256/<hex>`. The index points
//!   at a manifest (or at a nested index of per-platform manifests), the manifest lists the
//!   layers, lowest first. Every blob is named by its SHA-256, which we check.
//! - A `docker save` archive: `manifest.json` = `[{"Config": ..., "RepoTags": [...],
//!   "Layers": ["<id>/layer.tar", ...]}]`. Since Docker 25 it is also an OCI layout, and
//!   the legacy `<id>/layer.tar` files are symlinks into `blobs/`. The config's
//!   `rootfs.diff_ids` name the SHA-256 of each layer's *uncompressed* tar, which we check.
//!
//! An image is cached under a key made of verified digests only, never of a file that
//! merely names the content (manifest.json names files, not their contents): the OCI
//! manifest's digest (which fixes every layer's digest), or for a legacy `docker save`
//! the config's digest and the diff_ids it lists (each layer is checked against its
//! diff_id while it is unpacked), or, without a config, the SHA-256 of each layer file.
//!
//! The directory may be the user's or one we unpacked from an archive: every name read from
//! the JSON is checked, and files are opened with `openat2(RESOLVE_BENEATH)` so no symlink
//! in it can lead outside.

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::runtime::image::error::{Ctx, Error, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::unpack::{components, open_dir_fd, open_existing_dir};
use crate::runtime::assemble::cache::hex;

/// JSON documents larger than this are refused rather than read into memory.
const MAX_JSON: u64 = 16 << 20;
/// Index -> index -> manifest nesting allowed.
const MAX_DEPTH: usize = 4;

const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

#[derive(Debug, Clone)]
pub(crate) struct LayerRef {
    /// Relative to the layout directory.
    pub path: PathBuf,
    /// Hex SHA-256 the raw blob must have (its name in an OCI layout; what we hashed
    /// for a `docker save` without diff_ids).
    pub sha256: Option<String>,
    /// Hex SHA-256 the uncompressed tar must have: its diff_id in the image config.
    pub diff_id: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Layout {
    root: OwnedFd,
    /// Lowest first.
    pub layers: Vec<LayerRef>,
    /// Identifies the image by verified content (see the module documentation).
    pub key: String,
    /// For the learner: what this is.
    pub description: String,
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize, Clone)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
    #[serde(default)]
    annotations: std::collections::HashMap<String, String>,
}

#[derive(Deserialize, Clone)]
struct Platform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    #[serde(default)]
    config: Option<String>,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// The part of an image config (OCI image-spec config.md) we check layers against.
#[derive(Deserialize)]
struct ImageConfig {
    #[serde(default)]
    rootfs: Option<RootfsConfig>,
}

#[derive(Deserialize)]
struct RootfsConfig {
    #[serde(default)]
    diff_ids: Vec<String>,
}

impl Layout {
    /// Reads the layout in `dir`, or None if `dir` holds neither an OCI layout nor a
    /// `docker save` manifest (then it is a plain root filesystem). `what` names the
    /// image in messages.
    pub(crate) fn detect(dir: &Path, what: &str) -> Result<Option<Layout>> {
        let root = open_dir_fd(dir)?;
        let has = |name: &str| open_beneath(&root, Path::new(name)).is_ok();
        if has("oci-layout") || (has("index.json") && !has("manifest.json")) {
            return oci(root, what).map(Some);
        }
        if has("manifest.json") {
            let bytes = read_json(&root, Path::new("manifest.json"), what)?;
            // Only a JSON array of entries with "Layers" is a docker manifest; anything
            // else is some file of a root filesystem.
            if let Ok(entries) = serde_json::from_slice::<Vec<DockerEntry>>(&bytes) {
                if has("index.json") {
                    // Docker 25+: an OCI layout too; its digests let us check every blob.
                    if let Ok(layout) = oci(open_dir_fd(dir)?, what) {
                        return Ok(Some(layout));
                    }
                }
                return docker(root, entries, what).map(Some);
            }
        }
        Ok(None)
    }

    /// Opens a layer blob.
    pub(crate) fn open(&self, layer: &LayerRef) -> Result<File> {
        open_beneath(&self.root, &layer.path).map_err(|e| {
            Error::Failed(format!(
                "cannot open layer {} of the image: {e:#}",
                layer.path.display()
            ))
        })
    }
}

fn oci(root: OwnedFd, what: &str) -> Result<Layout> {
    let index_bytes = read_json(&root, Path::new("index.json"), what)?;
    let index: Index = serde_json::from_slice(&index_bytes)
        .ctx(|| format!("{what}: index.json is not an OCI image index"))?;
    let mut candidates = index.manifests;
    let mut chosen = None;
    for _ in 0..MAX_DEPTH {
        let desc = pick(&candidates)
            .ctx(|| format!("{what}: the image index lists no usable manifest"))?
            .clone();
        let bytes = read_blob(&root, &desc.digest, what)?;
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .ctx(|| format!("{what}: blob {} is not a manifest", desc.digest))?;
        let is_index = desc.media_type == MT_OCI_INDEX
            || desc.media_type == MT_DOCKER_LIST
            || (manifest.layers.is_none() && manifest.manifests.is_some());
        if is_index {
            candidates = manifest.manifests.unwrap_or_default();
            continue;
        }
        chosen = Some((desc, manifest.layers.unwrap_or_default()));
        break;
    }
    let (desc, layers) =
        chosen.ctx(|| format!("{what}: image indexes nested deeper than {MAX_DEPTH}"))?;
    if layers.is_empty() {
        return Err(Error::Refused(format!("{what}: the image has no layers")));
    }
    let layers = layers
        .iter()
        .map(|l| {
            let (path, hex) = blob_path(&l.digest, what)?;
            if l.media_type.contains("zstd") {
                return Err(Error::Refused(format!(
                    "{what}: layer {} is zstd-compressed, which underhood cannot unpack yet",
                    l.digest
                )));
            }
            Ok(LayerRef {
                path,
                sha256: Some(hex),
                diff_id: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let (_, manifest_hex) = blob_path(&desc.digest, what)?;
    let key = format!("oci manifest sha256:{manifest_hex}");
    let platform = desc
        .platform
        .as_ref()
        .map(|p| format!(", {}/{}", p.os, p.architecture))
        .unwrap_or_default();
    let name = desc
        .annotations
        .get("org.opencontainers.image.ref.name")
        .or_else(|| desc.annotations.get("io.containerd.image.name"))
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    Ok(Layout {
        root,
        description: format!(
            "OCI image layout{name} from {what} ({} layers{platform})",
            layers.len()
        ),
        layers,
        key,
    })
}

fn docker(root: OwnedFd, entries: Vec<DockerEntry>, what: &str) -> Result<Layout> {
    let entry = entries
        .into_iter()
        .next()
        .ctx(|| format!("{what}: manifest.json lists no image"))?;
    if entry.layers.is_empty() {
        return Err(Error::Refused(format!("{what}: the image has no layers")));
    }
    let mut layers = entry
        .layers
        .iter()
        .map(|l| {
            let path = plain_path(l, "layer", what)?;
            // Docker 25+ names layers blobs/sha256/<hex>: a digest we can check.
            let sha256 = l
                .strip_prefix("blobs/sha256/")
                .filter(|h| is_hex64(h))
                .map(str::to_string);
            Ok(LayerRef {
                path,
                sha256,
                diff_id: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    let mut key = Sha256::new();
    key.update(b"docker save v2\n");
    let diff_ids = match &entry.config {
        Some(name) => {
            let (config_hex, diff_ids) = docker_config(&root, name, what)?;
            key.update(format!("config sha256:{config_hex}\n"));
            diff_ids
        }
        None => None,
    };
    match diff_ids {
        Some(ids) => {
            if ids.len() != layers.len() {
                return Err(Error::Refused(format!(
                    "{what}: the image config lists {} diff_ids for {} layers in manifest.json",
                    ids.len(),
                    layers.len()
                )));
            }
            for (layer, id) in layers.iter_mut().zip(ids) {
                key.update(format!("diff_id sha256:{id}\n"));
                layer.diff_id = Some(id);
            }
        }
        None => {
            // Nothing names the layers' contents: hash each file, and unpack it only if
            // it still has that hash (it may change in between).
            for layer in &mut layers {
                let hex = match &layer.sha256 {
                    Some(h) => h.clone(),
                    None => hash_beneath(&root, &layer.path, what)?,
                };
                key.update(format!("layer sha256:{hex}\n"));
                layer.sha256 = Some(hex);
            }
        }
    }
    let tags = entry
        .repo_tags
        .filter(|t| !t.is_empty())
        .map(|t| format!(" {}", t.join(", ")))
        .unwrap_or_default();
    Ok(Layout {
        root,
        description: format!(
            "docker save image{tags} from {what} ({} layers)",
            layers.len()
        ),
        layers,
        key: hex(&key.finalize()),
    })
}

/// A relative path named in manifest.json, checked (no `..`, not absolute).
fn plain_path(name: &str, kind: &str, what: &str) -> Result<PathBuf> {
    let comps = components(name.as_bytes()).map_err(|why| {
        Error::Refused(format!(
            "{what}: refusing {kind} path {name:?} in manifest.json: {why}"
        ))
    })?;
    Ok(comps.iter().collect())
}

/// Reads a `docker save` config: its SHA-256 (checked against its name when the name is
/// a digest: `<hex>.json`, `blobs/sha256/<hex>`) and the diff_ids it lists, if any.
fn docker_config(root: &OwnedFd, name: &str, what: &str) -> Result<(String, Option<Vec<String>>)> {
    let path = plain_path(name, "config", what)?;
    let bytes = read_json(root, &path, what)?;
    let got = hex(&Sha256::digest(&bytes));
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let named = file_name
        .strip_suffix(".json")
        .filter(|h| is_hex64(h))
        .or_else(|| name.strip_prefix("blobs/sha256/").filter(|h| is_hex64(h)));
    if let Some(expected) = named
        && got != expected
    {
        return Err(Error::Refused(format!(
            "{what}: the image config {name} does not match its digest: expected \
             sha256:{expected}, got sha256:{got}"
        )));
    }
    let config: ImageConfig = serde_json::from_slice(&bytes)
        .ctx(|| format!("{what}: the image config {name} is not valid JSON"))?;
    let ids = match config.rootfs {
        Some(r) if !r.diff_ids.is_empty() => Some(
            r.diff_ids
                .iter()
                .map(|d| match d.split_once(':') {
                    Some(("sha256", h)) if is_hex64(h) => Ok(h.to_string()),
                    _ => Err(Error::Refused(format!(
                        "{what}: unsupported or malformed diff_id {d:?} in {name} \
                         (expected sha256:<64 hex>)"
                    ))),
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        _ => None,
    };
    Ok((got, ids))
}

/// SHA-256 of a file below `root`, streamed.
fn hash_beneath(root: &OwnedFd, rel: &Path, what: &str) -> Result<String> {
    let mut file = open_beneath(root, rel).map_err(|e| {
        Error::Failed(format!(
            "{what}: cannot open layer {} of the image: {e:#}",
            rel.display()
        ))
    })?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)
        .ctx(|| format!("{what}: cannot read layer {}", rel.display()))?;
    Ok(hex(&hasher.finalize()))
}

/// The manifest for this machine: linux and our architecture first, else the first that
/// is not an attestation (BuildKit adds "unknown/unknown" manifests holding provenance).
fn pick(descs: &[Descriptor]) -> Option<&Descriptor> {
    let arch = host_arch();
    let usable = |d: &&Descriptor| {
        d.annotations
            .get("vnd.docker.reference.type")
            .map(String::as_str)
            != Some("attestation-manifest")
            && d.platform.as_ref().is_none_or(|p| p.os != "unknown")
    };
    descs
        .iter()
        .filter(usable)
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == arch)
        })
        .or_else(|| descs.iter().find(usable))
}

/// Our architecture in OCI's words (GOARCH names).
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `sha256:<hex>` -> (`blobs/sha256/<hex>`, hex). Anything else is refused: the digest
/// becomes a path.
fn blob_path(digest: &str, what: &str) -> Result<(PathBuf, String)> {
    match digest.split_once(':') {
        Some(("sha256", h)) if is_hex64(h) => {
            Ok((Path::new("blobs/sha256").join(h), h.to_string()))
        }
        _ => Err(Error::Refused(format!(
            "{what}: unsupported or malformed digest {digest:?} (expected sha256:<64 hex>)"
        ))),
    }
}

fn read_blob(root: &OwnedFd, digest: &str, what: &str) -> Result<Vec<u8>> {
    let (path, expected) = blob_path(digest, what)?;
    let bytes = read_json(root, &path, what)?;
    let got = hex(&Sha256::digest(&bytes));
    if got != expected {
        return Err(Error::Refused(format!(
            "digest mismatch for {} in {what}: got sha256:{got}",
            path.display()
        )));
    }
    Ok(bytes)
}

fn read_json(root: &OwnedFd, rel: &Path, what: &str) -> Result<Vec<u8>> {
    let file = open_beneath(root, rel)
        .map_err(|e| Error::Failed(format!("{what}: cannot open {}: {e:#}", rel.display())))?;
    let mut bytes = Vec::new();
    file.take(MAX_JSON + 1)
        .read_to_end(&mut bytes)
        .ctx(|| format!("{what}: cannot read {}", rel.display()))?;
    if bytes.len() as u64 > MAX_JSON {
        return Err(Error::Refused(format!(
            "{what}: {} is larger than {MAX_JSON} bytes",
            rel.display()
        )));
    }
    Ok(bytes)
}

/// Opens a regular file below `root`; symlinks may be followed only while they stay below
/// it. Uses openat2(RESOLVE_BENEATH) (Linux 5.6+); older kernels get a walk that refuses
/// every symlink.
pub(crate) fn open_beneath(root: &OwnedFd, rel: &Path) -> Result<File> {
    // Field layout of `struct open_how` from linux/openat2.h (libc's is non-exhaustive).
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    // O_NONBLOCK: a FIFO planted in an archive must not block the open.
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK;
    let how = OpenHow {
        flags: flags as u64,
        mode: 0,
        resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS,
    };
    let c = CString::new(rel.as_os_str().as_bytes())
        .map_err(|e| Error::Refused(format!("NUL byte in {}: {e}", rel.display())))?;
    // SAFETY: openat2(2) reads `how` (size given) and the NUL-terminated path, both alive
    // for the call; on success it returns a new descriptor that we alone own.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    let file = if fd >= 0 {
        // SAFETY: see above.
        File::from(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    } else {
        let e = nix::errno::Errno::last();
        if e != nix::errno::Errno::ENOSYS {
            let hint = if e == nix::errno::Errno::EXDEV {
                " (a symlink leads outside the image)"
            } else {
                ""
            };
            return Err(Error::Refused(format!("{}: {e}{hint}", rel.display())));
        }
        let parent = rel.parent().unwrap_or(Path::new(""));
        let name = rel
            .file_name()
            .ctx(|| format!("{} names no file", rel.display()))?;
        let dir = open_existing_dir(root, parent)
            .ctx(|| format!("{}: missing, or behind a symlink", rel.display()))?;
        let fd = nix::fcntl::openat(
            &dir,
            name,
            nix::fcntl::OFlag::from_bits_truncate(flags | libc::O_NOFOLLOW),
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| Error::Failed(format!("{}: {e}", rel.display())))?;
        File::from(fd)
    };
    let meta = file
        .metadata()
        .ctx(|| format!("cannot stat {}", rel.display()))?;
    if !meta.is_file() {
        return Err(Error::Refused(format!(
            "{} is not a regular file",
            rel.display()
        )));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(os: &str, arch: &str, digest: &str) -> Descriptor {
        Descriptor {
            media_type: String::new(),
            digest: digest.to_string(),
            platform: Some(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
            }),
            annotations: Default::default(),
        }
    }

    #[test]
    fn picks_this_machine_then_first_usable() {
        let list = vec![
            desc("unknown", "unknown", "att"),
            desc("linux", "s390x", "a"),
            desc("linux", host_arch(), "b"),
        ];
        assert_eq!(pick(&list).unwrap().digest, "b");
        let list = vec![
            desc("unknown", "unknown", "att"),
            desc("linux", "s390x", "a"),
        ];
        assert_eq!(pick(&list).unwrap().digest, "a");
        assert!(pick(&[desc("unknown", "unknown", "att")]).is_none());
    }

    #[test]
    fn digests_become_safe_paths_only() {
        let h = "a".repeat(64);
        assert_eq!(
            blob_path(&format!("sha256:{h}"), "x").unwrap().0,
            Path::new("blobs/sha256").join(&h)
        );
        assert!(blob_path("sha256:../../etc/passwd", "x").is_err());
        assert!(blob_path(&format!("md5:{h}"), "x").is_err());
        assert!(blob_path(&format!("sha256:{}", "A".repeat(64)), "x").is_err());
    }

    #[test]
    fn open_beneath_refuses_escaping_symlinks_and_fifos() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("d");
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(t.path().join("secret"), "host").unwrap();
        std::fs::write(d.join("sub/ok"), "fine").unwrap();
        std::os::unix::fs::symlink("../secret", d.join("out")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("abs")).unwrap();
        std::os::unix::fs::symlink("sub/ok", d.join("in")).unwrap();
        nix::unistd::mkfifo(
            &d.join("fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let root = open_dir_fd(&d).unwrap();
        let mut s = String::new();
        open_beneath(&root, Path::new("in"))
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "fine");
        assert!(open_beneath(&root, Path::new("out")).is_err());
        assert!(open_beneath(&root, Path::new("abs")).is_err());
        assert!(open_beneath(&root, Path::new("../secret")).is_err());
        let e = open_beneath(&root, Path::new("fifo"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }
}
