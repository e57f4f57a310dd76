//! `/proc/<pid>/uid_map` and `gid_map` (user_namespaces(7)): how ids inside a process's user
//! namespace map to ids in the reader's.

use crate::observe::error::{Error, Result};

/// One line of `uid_map`/`gid_map`: ids `inside..inside+count` in the process's user
/// namespace are `outside..outside+count` in the reader's (user_namespaces(7)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdMapRange {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// Parses `uid_map`/`gid_map` text: lines of three numbers.
pub fn parse_id_map(text: &str) -> Result<Vec<IdMapRange>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let nums: Vec<u32> = line
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|e| Error::Malformed(format!("id map line {}: {line:?}: {e}", i + 1)))?;
            match nums[..] {
                [inside, outside, count] => Ok(IdMapRange {
                    inside,
                    outside,
                    count,
                }),
                _ => Err(Error::Malformed(format!(
                    "id map line {}: {line:?}: expected 3 numbers, got {}",
                    i + 1,
                    nums.len()
                ))),
            }
        })
        .collect()
}

/// The id inside the namespace that the reader's id `outside` maps to, if any.
pub fn map_to_inside(map: &[IdMapRange], outside: u32) -> Option<u32> {
    map.iter().find_map(|r| {
        let offset = outside.checked_sub(r.outside)?;
        (offset < r.count).then(|| r.inside + offset)
    })
}
