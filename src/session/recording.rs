//! Recordings (`underhood --record FILE`, `underhood replay FILE`): a session's events
//! saved as they happen, to be played back with the same UI and timing, without root
//! and without any kernel feature. The format is documented in docs/recording-format.md.
//!
//! A file is JSON Lines: a header line, then one line per event:
//!
//! ```text
//! {"format":"underhood-recording","version":2,"underhood":"0.1.0",...}
//! {"t_ms":12,"batch":0,"event":{"kind":"started","steps":[...]}}
//! ```
//!
//! `batch` numbers what one message of the live session (a key, a sample, a signal)
//! caused: a replay stops between batches, never inside one.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a recording cannot be read or written. Messages name FILE:LINE[:COLUMN] and what
/// is wrong; they are whole on their own (`{e}` and `{e:#}` print the same).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening or reading the file failed (`what`: "opening PATH", "reading PATH:LINE").
    #[error("{what}: {err}")]
    Io { what: String, err: std::io::Error },
    /// Not an underhood recording, or a damaged one.
    #[error("{0}")]
    Damaged(String),
    /// A recording format this build does not play (too new, or too old).
    #[error("{0}")]
    Version(String),
    /// `--record PATH`: something is already there; recordings are never written over.
    #[error(
        "--record {shown}: something is already there (a file or a symbolic link): \
         recordings are never written over or through a link; remove it or choose a new name"
    )]
    Exists { shown: String },
    /// `--record PATH` could not be created, or its header written.
    #[error("--record {shown}: creating it: {err}")]
    Create { shown: String, err: std::io::Error },
    /// The header could not be written.
    #[error("{0}")]
    Write(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
use serde::{Deserialize, Serialize};

use super::event::{Event, HostLine};
use crate::observe::namespaces::NsLink;

mod delta;

/// The first line's `format`.
pub const FORMAT: &str = "underhood-recording";
/// The format this build writes. 2: a snapshot is written as what changed since the
/// previous one (src/session/recording/delta.rs).
pub const VERSION: u32 = 2;
/// The oldest format this build plays.
pub const OLDEST: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// The underhood version that recorded it.
    pub underhood: String,
    /// When the recording started (ms since the Unix epoch).
    pub started_unix_ms: u64,
    /// The host facts of the header line, and the host's namespaces (to compare with).
    pub host: HostLine,
    pub host_ns: Vec<NsLink>,
    /// The session's view options.
    #[serde(default)]
    pub present: bool,
    #[serde(default)]
    pub high_contrast: bool,
    /// The cgroup step was left out of the walk: doctor's line on why and what gives it
    /// (the step pane shows it where the step would have come).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_skipped: Option<String>,
}

impl Header {
    pub fn new(host: HostLine, host_ns: Vec<NsLink>, present: bool, high_contrast: bool) -> Header {
        Header {
            format: FORMAT.into(),
            version: VERSION,
            underhood: env!("CARGO_PKG_VERSION").into(),
            started_unix_ms: unix_ms_now(),
            host,
            host_ns,
            present,
            high_contrast,
            cgroup_skipped: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Time since the session started.
    pub t_ms: u64,
    pub batch: u64,
    pub event: Event,
}

impl Entry {
    pub fn at(&self) -> Duration {
        Duration::from_millis(self.t_ms)
    }
}

/// A recording read back.
#[derive(Debug, Clone)]
pub struct Recording {
    pub path: PathBuf,
    pub header: Header,
    pub entries: Vec<Entry>,
    /// Set when the last line was cut short (the recording session was killed while
    /// writing it): what came before still plays.
    pub cut_at_line: Option<usize>,
}

/// Reads a recording; errors name the file, the line and what is wrong.
pub fn read(path: &Path) -> Result<Recording> {
    let file = File::open(path).map_err(|err| Error::Io {
        what: format!("opening {}", path.display()),
        err,
    })?;
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let first = match next_line(&mut reader, &mut buf, path, 1)? {
        Some(l) => l,
        None => {
            return Err(Error::Damaged(format!(
                "{}: empty file: not an underhood recording",
                path.display()
            )));
        }
    };
    let header = header(path, &first)?;
    let mut entries = Vec::new();
    let mut cut_at_line = None;
    // A line that is cut short (an unexpected end of its JSON) is fine only as the
    // last line: the recording ended abruptly (a crash, a full disk).
    let mut pending: Option<(usize, serde_json::Error)> = None;
    let mut n = 1;
    let mut chain = delta::Chain::default();
    loop {
        n += 1;
        let Some(line) = next_line(&mut reader, &mut buf, path, n)? else {
            break;
        };
        if let Some((at, e)) = pending.take() {
            return Err(Error::Damaged(format!(
                "{}:{at}:{}: {e}",
                path.display(),
                e.column()
            )));
        }
        if line.trim().is_empty() {
            continue;
        }
        let parsed = if header.version >= 2 {
            entry_since_v2(&line, &mut chain).map_err(|e| match e {
                Since2::Json(e) => e,
                Since2::Chain(e) => serde_json::Error::io(std::io::Error::other(e.to_string())),
            })
        } else {
            serde_json::from_str::<Entry>(&line)
        };
        match parsed {
            Ok(e) => entries.push(e),
            Err(e) if e.is_eof() => pending = Some((n, e)),
            Err(e) => {
                return Err(Error::Damaged(format!(
                    "{}:{n}:{}: {e} (recorded by underhood {}; a newer event kind needs a newer underhood)",
                    path.display(),
                    e.column(),
                    header.underhood
                )));
            }
        }
    }
    if let Some((at, _)) = pending {
        cut_at_line = Some(at);
    }
    Ok(Recording {
        path: path.to_path_buf(),
        header,
        entries,
        cut_at_line,
    })
}

enum Since2 {
    Json(serde_json::Error),
    Chain(delta::Damaged),
}

/// A line of format 2 and up: its snapshots are restored whole from the ones before
/// them before it is read as an [`Entry`].
fn entry_since_v2(line: &str, chain: &mut delta::Chain) -> Result<Entry, Since2> {
    let mut value: serde_json::Value = serde_json::from_str(line).map_err(Since2::Json)?;
    if let Some(event) = value.get_mut("event") {
        chain.decode(event).map_err(Since2::Chain)?;
    }
    serde_json::from_value(value).map_err(Since2::Json)
}

/// The longest line a recording may have. Our longest events (a snapshot of a busy
/// container, a lesson's whole text) take tens of kilobytes; parsing costs many times
/// a line's size in memory, so a longer line is refused before it is parsed.
pub const MAX_LINE: usize = 4 << 20;

/// Reads line `n` (without its newline) into `buf`; `None` at the end of the file. A
/// line longer than [`MAX_LINE`] is an error naming FILE:LINE, found after reading at
/// most `MAX_LINE + 1` bytes of it.
fn next_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    path: &Path,
    n: usize,
) -> Result<Option<String>> {
    use std::io::Read;
    buf.clear();
    let read = reader
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', buf)
        .map_err(|err| Error::Io {
            what: format!("reading {}:{n}", path.display()),
            err,
        })?;
    if read == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    if buf.len() > MAX_LINE {
        return Err(Error::Damaged(format!(
            "{}:{n}: a line longer than {} MiB, the longest a recording may have: not an underhood recording, or a damaged one",
            path.display(),
            MAX_LINE >> 20
        )));
    }
    let line = std::str::from_utf8(buf)
        .map_err(|e| Error::Damaged(format!("{}:{n}: not UTF-8 text: {e}", path.display())))?;
    Ok(Some(line.to_string()))
}

/// Checks the first line: ours, and a version this build plays.
fn header(path: &Path, line: &str) -> Result<Header> {
    let p = path.display();
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| {
        Error::Damaged(format!(
            "{p}:1:{}: not an underhood recording (its first line is not JSON: {e})",
            e.column()
        ))
    })?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(Error::Damaged(format!(
            "{p}:1:1: not an underhood recording (no \"format\": \"{FORMAT}\" on its first line)"
        )));
    }
    let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    let by = value
        .get("underhood")
        .and_then(|v| v.as_str())
        .unwrap_or("an unknown version");
    let ours = env!("CARGO_PKG_VERSION");
    if version > VERSION as u64 {
        return Err(Error::Version(format!(
            "{p}: recorded by underhood {by} in recording format {version}; this underhood \
             ({ours}) plays formats {OLDEST} to {VERSION}: replay it with underhood {by} or newer"
        )));
    }
    if version < OLDEST as u64 {
        return Err(Error::Version(format!(
            "{p}: recorded by underhood {by} in recording format {version}, which this \
             underhood ({ours}) no longer plays (formats {OLDEST} to {VERSION})"
        )));
    }
    serde_json::from_value(value)
        .map_err(|e| Error::Damaged(format!("{p}:1: a damaged header: {e}")))
}

/// A `Tap` that writes every event to the file as it happens. Each line is flushed at
/// once: a session that is killed keeps everything up to its last event.
/// Creates the recording's file, only if nothing is at `path` yet: O_CREAT|O_EXCL
/// refuses an existing file and, with O_NOFOLLOW, a symlink even if it dangles
/// (open(2): "If O_CREAT and O_EXCL are set ... symbolic links are not followed"). We
/// run as root: following a link another user planted in a sticky world-writable
/// directory (/tmp) would truncate any file on the host. The mode is File::create's
/// (0666 less the umask): a recording is made to be replayed without root.
pub fn create_new(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            let shown = crate::runtime::report::printable(&path.display().to_string());
            match e.kind() {
                std::io::ErrorKind::AlreadyExists => Error::Exists { shown },
                _ => Error::Create { shown, err: e },
            }
        })
}

pub struct Recorder {
    path: PathBuf,
    out: BufWriter<File>,
    batch: u64,
    /// The last snapshot written, that the next one is written against.
    chain: delta::Chain,
    /// The first write error, reported once at the end (a full disk must not stop
    /// the session on stage).
    failed: Option<String>,
}

impl Recorder {
    /// Creates (or truncates) the file and writes the header.
    pub fn create(path: &Path, header: &Header) -> Result<Recorder> {
        let file = create_new(path)?;
        let mut r = Recorder {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            batch: 0,
            chain: delta::Chain::default(),
            failed: None,
        };
        let line = serde_json::to_string(header).map_err(|e| Error::Write(e.to_string()))?;
        r.write_line(&line);
        match r.failed.take() {
            Some(e) => Err(Error::Write(e)),
            None => Ok(r),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first write error, if any.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    fn write_line(&mut self, line: &str) {
        if self.failed.is_some() {
            return;
        }
        if line.len() > MAX_LINE {
            // Replay would refuse the file: stop here, with what came before intact.
            self.failed = Some(format!(
                "{}: an event of {} bytes, over the {} MiB a recording's line may have",
                self.path.display(),
                line.len(),
                MAX_LINE >> 20
            ));
            return;
        }
        let r = self
            .out
            .write_all(line.as_bytes())
            .and_then(|_| self.out.write_all(b"\n"))
            .and_then(|_| self.out.flush());
        if let Err(e) = r {
            self.failed = Some(format!("writing {}: {e}", self.path.display()));
        }
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Recorder {
    /// The live session starts handling one message: what follows, until the next
    /// `begin`, is one batch (a replay stops between batches).
    pub fn begin(&mut self) {
        self.batch += 1;
    }

    /// Writes one event, `at` the time since the session started.
    pub fn event(&mut self, at: Duration, ev: &Event) {
        // The event as a JSON value, its snapshots then written as what changed.
        #[derive(Serialize)]
        struct EntryRef {
            t_ms: u64,
            batch: u64,
            event: serde_json::Value,
        }
        let mut event = match serde_json::to_value(ev) {
            Ok(v) => v,
            Err(e) => {
                self.failed = Some(format!("encoding an event: {e}"));
                return;
            }
        };
        self.chain.encode(&mut event);
        let entry = EntryRef {
            t_ms: at.as_millis() as u64,
            batch: self.batch,
            event,
        };
        match serde_json::to_string(&entry) {
            Ok(line) => self.write_line(&line),
            Err(e) => self.failed = Some(format!("encoding an event: {e}")),
        }
    }

    /// Flushes what is buffered; returns the line that says where the recording
    /// went (or that it is incomplete, and why).
    pub fn finish(&mut self) -> String {
        let _ = self.out.flush();
        match &self.failed {
            Some(e) => format!(
                "underhood: the recording is incomplete: {}",
                crate::runtime::report::printable(e)
            ),
            None => {
                let p = crate::runtime::report::printable(&self.path.display().to_string());
                format!("underhood: recorded to {p} (play it with `underhood replay {p}`)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::step::Step;

    fn header() -> Header {
        Header::new(HostLine::default(), Vec::new(), false, false)
    }

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("rec.jsonl");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn what_is_recorded_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut r = Recorder::create(&path, &header()).unwrap();
        r.begin();
        r.event(
            Duration::from_millis(5),
            &Event::Started {
                steps: vec![Step::Ipc],
            },
        );
        r.begin();
        r.event(Duration::from_millis(9), &Event::Hog { pid: Some(3) });
        r.finish();
        let rec = read(&path).unwrap();
        assert_eq!(rec.header.version, VERSION);
        assert_eq!(rec.entries.len(), 2);
        assert_eq!((rec.entries[0].t_ms, rec.entries[0].batch), (5, 1));
        assert_eq!(rec.entries[1].event, Event::Hog { pid: Some(3) });
        assert_eq!(rec.cut_at_line, None);
    }

    #[test]
    fn snapshots_are_written_as_changes_and_read_back_whole() {
        use crate::observe::snapshot::Snapshot;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut r = Recorder::create(&path, &header()).unwrap();
        let mut a = Snapshot {
            subject: 42,
            mounts: Err("unreadable: ENOENT".into()),
            ..Snapshot::default()
        };
        let mut sent = Vec::new();
        for k in 0..4u64 {
            a.at = Duration::from_millis(100 * k);
            if k == 2 {
                a.pids_current = Some(k);
            }
            let ev = Event::Snapshot {
                snapshot: Box::new(a.clone()),
            };
            r.begin();
            r.event(a.at, &ev);
            sent.push(ev);
        }
        r.finish();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("ENOENT").count(), 1, "written once:\n{text}");
        let rec = read(&path).unwrap();
        let got: Vec<Event> = rec.entries.into_iter().map(|e| e.event).collect();
        assert_eq!(got, sent);
    }

    #[test]
    fn a_newer_format_says_which_underhood_plays_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "{\"format\":\"underhood-recording\",\"version\":99,\"underhood\":\"9.1.0\"}\n",
        );
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("format 99"), "{e}");
        assert!(e.contains("underhood 9.1.0 or newer"), "{e}");
    }

    #[test]
    fn not_a_recording_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "hello\n");
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("rec.jsonl:1:"), "{e}");
        assert!(e.contains("not an underhood recording"), "{e}");
        let p = write(dir.path(), "{\"format\":\"asciicast\"}\n");
        assert!(
            read(&p)
                .unwrap_err()
                .to_string()
                .contains("not an underhood")
        );
        let p = write(dir.path(), "");
        assert!(read(&p).unwrap_err().to_string().contains("empty file"));
    }

    #[test]
    fn a_cut_last_line_plays_the_rest_and_a_damaged_middle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let head = serde_json::to_string(&header()).unwrap();
        let ok = "{\"t_ms\":1,\"batch\":1,\"event\":{\"kind\":\"hog\",\"pid\":null}}";
        let cut = "{\"t_ms\":2,\"batch\":2,\"event\":{\"kind\":\"ho";
        let p = write(dir.path(), &format!("{head}\n{ok}\n{cut}"));
        let rec = read(&p).unwrap();
        assert_eq!((rec.entries.len(), rec.cut_at_line), (1, Some(3)));
        let p = write(dir.path(), &format!("{head}\n{cut}\n{ok}\n"));
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("rec.jsonl:2:"), "{e}");
        let unknown = "{\"t_ms\":1,\"batch\":1,\"event\":{\"kind\":\"teleport\"}}";
        let p = write(dir.path(), &format!("{head}\n{unknown}\n"));
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("rec.jsonl:2:") && e.contains("teleport"), "{e}");
    }
}
