//! Container images from files: a rootfs tarball (`docker export`, an Alpine minirootfs), an
//! OCI image layout (a directory or a tar of one), or a `docker save` archive. Each is
//! unpacked once into `<cache_dir>/images/<sha256>/layers/<n>`, ready to be stacked with
//! overlayfs (layer 0 lowest).
//!
//! As root the layers stay separate and their whiteouts become overlayfs whiteouts. Without
//! root those cannot be made, so the layers are flattened into one directory instead.
//!
//! Images come from strangers, so the cache trusts nothing it has not checked: an image is
//! cached under a key made of verified digests (see [`layout`]), every layer is checked
//! against its digest while it is unpacked, and what an unpack may write is bounded
//! ([`max_image_size`], `--max-image-size`, [`DEFAULT_MAX_IMAGE_SIZE`] by default). Each
//! time an image is added, the cache is trimmed to [`CACHE_CAP`], least recently used
//! first, never touching a tree a live process uses.

pub mod error;
mod flatten;
mod layout;
mod unpack;

use std::fs::{self, File};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::runtime::image::error::{Ctx, Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::runtime::assemble::cache;
use crate::runtime::paths::Paths;
use layout::Layout;
use unpack::{Budget, Digests, Options, Unpacked, Whiteouts};

/// The most an image may write when unpacked, unless `--max-image-size` says otherwise:
/// 4 GiB, well above any distribution's base image and far below what fills a disk.
pub const DEFAULT_MAX_IMAGE_SIZE: u64 = 4 << 30;
/// The cache (unpacked images, assembled rootfs, tools layers) is trimmed to this each
/// time an image is added, least recently used first: 10 GiB.
pub const CACHE_CAP: u64 = 10 << 30;

static MAX_IMAGE_SIZE: AtomicU64 = AtomicU64::new(DEFAULT_MAX_IMAGE_SIZE);

/// Sets the unpack limit for this process (`--max-image-size`).
pub fn set_max_image_size(bytes: u64) {
    MAX_IMAGE_SIZE.store(bytes, Ordering::Relaxed);
}

/// The unpack limit in force: what one image's files (each at its full length, sparse
/// ones expanded) plus 512 bytes per archive entry may add up to.
pub fn max_image_size() -> u64 {
    MAX_IMAGE_SIZE.load(Ordering::Relaxed)
}

/// An unpacked image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Layer directories, lowest first. (overlayfs' `lowerdir=` lists the highest first.)
    pub layers: Vec<PathBuf>,
    /// What the file was, for the learner: "rootfs tarball alpine.tar.gz", ...
    pub source: String,
    /// What was skipped while unpacking (device nodes, ...).
    pub notes: Vec<String>,
}

/// Stored beside the layers, so a cached image answers without reading the archive.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    source: String,
    layers: usize,
    flattened: bool,
    notes: Vec<String>,
}

/// Mixed into every cache key: bump it when what a cached image is, or how it is checked,
/// changes, so older entries are never served (those of version 1 were keyed on
/// manifest.json and unpacked without checking diff_ids or any size limit).
const CACHE_RECIPE: &str = "image-cache-2";

/// The directory name under `images/` of the image `key` identifies.
fn entry_name(key: &str) -> String {
    cache::hex(&Sha256::digest(format!("{CACHE_RECIPE}\n{key}").as_bytes()))
}

/// The directory name under `images/` of an image file: by the SHA-256 of its contents.
fn file_key(file: &Path) -> Result<String> {
    Ok(entry_name(&format!(
        "file sha256:{}",
        cache::sha256_file(file)?
    )))
}

const META: &str = "image.json";
const LAYERS: &str = "layers";
/// `images/by-stat/<hash of path and stat>` -> `../<content hash>`: a second call with the
/// same, unchanged file needs no hashing of its contents.
const BY_STAT: &str = "by-stat";

/// "a FIFO", "a character device"...: what stat(2) says a non-regular file is.
fn file_kind(t: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "neither a regular file nor a directory"
    }
}

/// Unpacks `file` (or finds it in the cache). See the module documentation for the formats.
pub fn unpack_image(file: &Path, paths: &Paths) -> Result<Image> {
    let root = nix::unistd::geteuid().is_root();
    let opts = Options {
        whiteouts: if root {
            Whiteouts::Overlay
        } else {
            Whiteouts::Record
        },
        chown: root,
        max_bytes: max_image_size(),
    };
    unpack_image_with(file, paths, opts)
}

fn unpack_image_with(file: &Path, paths: &Paths, opts: Options) -> Result<Image> {
    let images = paths.cache_dir.join("images");
    // Images keep their setuid files and modes, and they come from strangers: a setuid-root
    // shell from an image must not be reachable by the host's users. Only the owner may
    // enter; containers see the layers through their own mounts, which need no path here.
    fs::create_dir_all(&images).ctx(|| format!("cannot create {}", images.display()))?;
    fs::set_permissions(&images, fs::Permissions::from_mode(0o700))
        .ctx(|| format!("cannot chmod 0700 {}", images.display()))?;
    let meta = fs::metadata(file).ctx(|| format!("cannot open image {}", file.display()))?;
    let what = file.display().to_string();
    // stat(2) before any open(2): a character device such as /dev/zero reads forever, and
    // opening a FIFO blocks until a writer comes. An image is a file or a directory.
    if !meta.is_dir() && !meta.is_file() {
        return Err(Error::Refused(format!(
            "{what} is {}: an image is a regular file (an archive) or a directory",
            file_kind(&meta.file_type())
        )));
    }

    if meta.is_dir() {
        let layout = Layout::detect(file, &what)?.ctx(|| {
            format!(
                "{what} is a directory but neither an OCI image layout (oci-layout, index.json) \
                 nor an unpacked docker save (manifest.json)"
            )
        })?;
        let dir = images.join(entry_name(&layout.key));
        let (dir, fresh) = cache::build_atomically_fresh(&dir, |tmp| -> Result<()> {
            build_layers(&layout, tmp, opts, &Budget::new(opts.max_bytes), &what)?;
            Ok(())
        })?;
        if fresh {
            cache::trim(&paths.cache_dir, CACHE_CAP, &paths.proc_root);
        }
        return load(&dir);
    }

    let canonical = fs::canonicalize(file).ctx(|| format!("cannot resolve {what}"))?;
    let identity = format!(
        "{CACHE_RECIPE} {} {} {} {} {}.{}",
        canonical.display(),
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec()
    );
    let by_stat = images
        .join(BY_STAT)
        .join(&cache::hex(&Sha256::digest(identity.as_bytes()))[..32]);
    if let Ok(target) = fs::read_link(&by_stat)
        && let Some(name) = target.file_name()
    {
        let dir = images.join(name);
        if dir.join(META).is_file() {
            return load(&dir);
        }
    }

    let key = file_key(file)?;
    let (dir, fresh) = cache::build_atomically_fresh(&images.join(&key), |tmp| -> Result<()> {
        build_from_file(file, tmp, opts, &what)
    })?;
    if fresh {
        cache::trim(&paths.cache_dir, CACHE_CAP, &paths.proc_root);
    }
    // Best effort: without the link the next call hashes the file again, nothing worse.
    let _ = link_by_stat(&by_stat, &key);
    load(&dir)
}

/// Unpacks the archive as if it were a root filesystem; if what comes out is an image
/// layout (docker save, OCI), unpacks its layers from there instead. One pass over the
/// archive either way, and the same careful unpacker for the outer archive too. The outer
/// archive and the layers inside it each get the whole limit.
fn build_from_file(file: &Path, tmp: &Path, opts: Options, what: &str) -> Result<()> {
    let staging = tmp.join("staging");
    make_dir(&staging)?;
    let input = File::open(file).ctx(|| format!("cannot open {what}"))?;
    let outer = Budget::new(opts.max_bytes);
    let unpacked = unpack::unpack_blob(input, &staging, opts, &outer, what, Digests::default())?;
    if let Some(layout) = Layout::detect(&staging, what)? {
        build_layers(&layout, tmp, opts, &Budget::new(opts.max_bytes), what)?;
        drop(layout);
        return Ok(cache::remove_tree(&staging)?);
    }
    // A root filesystem: the staging directory is the only layer.
    let layers = tmp.join(LAYERS);
    make_dir(&layers)?;
    let layer0 = layers.join("0");
    fs::rename(&staging, &layer0).ctx(|| {
        format!(
            "cannot rename {} to {}",
            staging.display(),
            layer0.display()
        )
    })?;
    let notes = unpacked.notes.clone();
    if opts.whiteouts == Whiteouts::Record {
        // Whiteouts of a single layer delete nothing; the directory modes are still due.
        let mut flat = flatten::Flat::new(&layer0)?;
        flat.merge_metadata_only(unpacked);
        flat.finish(opts.chown)?;
    }
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or(what.to_string());
    write_meta(
        tmp,
        &Meta {
            source: format!("rootfs tarball {name}"),
            layers: 1,
            flattened: false,
            notes,
        },
    )
}

fn build_layers(
    layout: &Layout,
    tmp: &Path,
    opts: Options,
    budget: &Budget,
    what: &str,
) -> Result<()> {
    let layers = tmp.join(LAYERS);
    make_dir(&layers)?;
    let mut notes = Vec::new();
    let mut note = |i: usize, u: &Unpacked| {
        notes.extend(u.notes.iter().map(|n| format!("layer {i}: {n}")));
    };
    let flattened = opts.whiteouts == Whiteouts::Record;
    if flattened {
        let flat_dir = layers.join("0");
        make_dir(&flat_dir)?;
        let mut flat = flatten::Flat::new(&flat_dir)?;
        for (i, layer) in layout.layers.iter().enumerate() {
            let stage = tmp.join(format!("stage-{i}"));
            make_dir(&stage)?;
            let desc = format!("{what} layer {i} ({})", layer.path.display());
            let u = unpack::unpack_blob(
                layout.open(layer)?,
                &stage,
                opts,
                budget,
                &desc,
                digests(layer),
            )?;
            note(i, &u);
            flat.merge(&stage, u)?;
            cache::remove_tree(&stage)?;
        }
        flat.finish(opts.chown)?;
    } else {
        for (i, layer) in layout.layers.iter().enumerate() {
            let dir = layers.join(i.to_string());
            make_dir(&dir)?;
            let desc = format!("{what} layer {i} ({})", layer.path.display());
            let u = unpack::unpack_blob(
                layout.open(layer)?,
                &dir,
                opts,
                budget,
                &desc,
                digests(layer),
            )?;
            note(i, &u);
        }
    }
    let source = if flattened {
        format!("{}, flattened (not root)", layout.description)
    } else {
        layout.description.clone()
    };
    write_meta(
        tmp,
        &Meta {
            source,
            layers: if flattened { 1 } else { layout.layers.len() },
            flattened,
            notes,
        },
    )
}

fn digests(layer: &layout::LayerRef) -> Digests<'_> {
    Digests {
        blob: layer.sha256.as_deref(),
        diff_id: layer.diff_id.as_deref(),
    }
}

fn make_dir(dir: &Path) -> Result<()> {
    fs::create_dir(dir).ctx(|| format!("cannot create {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .ctx(|| format!("cannot chmod 0755 {}", dir.display()))
}

fn write_meta(dir: &Path, meta: &Meta) -> Result<()> {
    let path = dir.join(META);
    fs::write(&path, serde_json::to_vec_pretty(meta)?)
        .ctx(|| format!("cannot write {}", path.display()))
}

fn load(dir: &Path) -> Result<Image> {
    let path = dir.join(META);
    let bytes = fs::read(&path).ctx(|| format!("cannot read {}", path.display()))?;
    let meta: Meta = serde_json::from_slice(&bytes)
        .ctx(|| format!("corrupt {}; remove {}", path.display(), dir.display()))?;
    let layers: Vec<PathBuf> = (0..meta.layers)
        .map(|i| dir.join(LAYERS).join(i.to_string()))
        .collect();
    if let Some(missing) = layers.iter().find(|l| !l.is_dir()) {
        return Err(Error::Refused(format!(
            "cached image {} lacks {}; remove it",
            dir.display(),
            missing.display()
        )));
    }
    Ok(Image {
        layers,
        source: meta.source,
        notes: meta.notes,
    })
}

fn link_by_stat(link: &Path, key: &str) -> Result<()> {
    cache::check_plain_name(key)?;
    let dir = link.parent().ctx(|| "by-stat link has no parent")?;
    fs::create_dir_all(dir).ctx(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(Path::new("..").join(key), &tmp)
        .ctx(|| format!("cannot create {}", tmp.display()))?;
    fs::rename(&tmp, link).ctx(|| format!("cannot rename to {}", link.display()))
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
