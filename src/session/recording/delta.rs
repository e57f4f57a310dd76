//! Format 2's snapshots: each one written as what changed since the previous snapshot of
//! the file (docs/recording-format.md, "Snapshots since format 2").
//!
//! A sample repeats almost everything of the one before it: the mount table, the
//! namespace links and most of the process tree; while the memory hog climbs only its
//! memory figures move, ten times a second. Format 1 wrote each sample whole (about
//! 9 KB); format 2 writes `{"since_previous": PATCH}` where PATCH says only what
//! changed, and stays JSON a person can read:
//!
//! - a number, string, boolean or null: the new value;
//! - `{"=": V}`: V, whole (an object or array that is new, or changed its shape);
//! - `{"[]": [ITEM, ...]}`: an array, ITEM by ITEM: an integer `j` is the previous
//!   array's element `j` unchanged, `{"@": j, ...PATCH}` is element `j` patched, any
//!   other object is PATCH applied to the element at the same index (or `{"=": V}`);
//! - any other object: the fields that changed, each a PATCH; the others are as before.
//!
//! A snapshot object (a struct's fields) never has a field called `=`, `[]`, `@` or
//! `since_previous`, so these never collide with what they encode.

/// A format-2 snapshot change that does not fit the snapshot before it: a damaged file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Damaged(pub String);

type Result<T> = std::result::Result<T, Damaged>;
use serde_json::{Map, Value};

/// The marker of a snapshot written as a patch.
const SINCE: &str = "since_previous";

/// The positions of snapshots in an event, in the order they are read and written.
const SNAPSHOT_FIELDS: [&str; 3] = ["before", "after", "snapshot"];

/// The writer's and the reader's memory: the last snapshot of the file, whole.
#[derive(Default)]
pub struct Chain {
    previous: Option<Value>,
}

impl Chain {
    /// Rewrites the snapshots of an event (a serialized `Event`) as patches against the
    /// previous one.
    pub fn encode(&mut self, event: &mut Value) {
        let Some(obj) = event.as_object_mut() else {
            return;
        };
        for field in SNAPSHOT_FIELDS {
            let Some(slot) = obj.get_mut(field) else {
                continue;
            };
            if !slot.is_object() {
                continue; // `before` is null for the first step
            }
            let whole = slot.take();
            *slot = match &self.previous {
                Some(prev) => {
                    let mut m = Map::new();
                    m.insert(
                        SINCE.into(),
                        patch(prev, &whole).unwrap_or(Value::Object(Map::new())),
                    );
                    Value::Object(m)
                }
                None => whole.clone(),
            };
            self.previous = Some(whole);
        }
    }

    /// Restores the whole snapshots of an event read from a format-2 file.
    pub fn decode(&mut self, event: &mut Value) -> Result<()> {
        let Some(obj) = event.as_object_mut() else {
            return Ok(());
        };
        for field in SNAPSHOT_FIELDS {
            let Some(slot) = obj.get_mut(field) else {
                continue;
            };
            let Some(o) = slot.as_object_mut() else {
                continue;
            };
            if let Some(p) = o.remove(SINCE) {
                let Some(prev) = &self.previous else {
                    return Err(Damaged(
                        "a snapshot written as a change, with no snapshot before it".into(),
                    ));
                };
                *slot = apply(prev, &p)?;
            }
            self.previous = Some(slot.clone());
        }
        Ok(())
    }
}

/// What turns `prev` into `cur`; `None` when they are equal.
fn patch(prev: &Value, cur: &Value) -> Option<Value> {
    if prev == cur {
        return None;
    }
    Some(match (prev, cur) {
        (Value::Object(p), Value::Object(c))
            if p.len() == c.len() && c.keys().all(|k| p.contains_key(k)) =>
        {
            let mut m = Map::new();
            for (k, v) in c {
                if let Some(d) = patch(&p[k], v) {
                    m.insert(k.clone(), d);
                }
            }
            Value::Object(m)
        }
        (Value::Array(p), Value::Array(c)) => {
            let items = c
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    // Unchanged where it was, or moved (a process exited before it).
                    if p.get(i) == Some(v) {
                        return Value::from(i);
                    }
                    if let Some(j) = p.iter().position(|x| x == v) {
                        return Value::from(j);
                    }
                    match p.get(i) {
                        Some(old) if old.is_object() && v.is_object() => match patch(old, v) {
                            Some(Value::Object(mut m)) if !m.contains_key("=") => {
                                m.insert("@".into(), Value::from(i));
                                Value::Object(m)
                            }
                            _ => whole(v),
                        },
                        _ => whole(v),
                    }
                })
                .collect();
            let mut m = Map::new();
            m.insert("[]".into(), Value::Array(items));
            Value::Object(m)
        }
        _ => whole(cur),
    })
}

/// `v` as a patch that replaces whatever was there.
fn whole(v: &Value) -> Value {
    if v.is_object() || v.is_array() {
        let mut m = Map::new();
        m.insert("=".into(), v.clone());
        Value::Object(m)
    } else {
        v.clone()
    }
}

fn apply(prev: &Value, p: &Value) -> Result<Value> {
    let Value::Object(m) = p else {
        return Ok(p.clone());
    };
    if let Some(v) = m.get("=") {
        return Ok(v.clone());
    }
    if let Some(items) = m.get("[]") {
        let (Value::Array(items), Value::Array(old)) = (items, prev) else {
            return Err(Damaged(
                "an array's change where the previous snapshot has no array".into(),
            ));
        };
        let out = items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Number(n) => {
                    let j = n.as_u64().unwrap_or(u64::MAX) as usize;
                    old.get(j)
                        .cloned()
                        .ok_or_else(|| Damaged(format!("element {j} of an array of {}", old.len())))
                }
                Value::Object(o) => {
                    let j = match o.get("@") {
                        Some(j) => j.as_u64().unwrap_or(u64::MAX) as usize,
                        None => i,
                    };
                    let mut rest = o.clone();
                    rest.remove("@");
                    let base = old.get(j).unwrap_or(&Value::Null);
                    apply(base, &Value::Object(rest))
                }
                other => Ok(other.clone()),
            })
            .collect::<Result<Vec<_>>>()?;
        return Ok(Value::Array(out));
    }
    let Value::Object(old) = prev else {
        return Err(Damaged(
            "a change of fields where the previous snapshot has no object".into(),
        ));
    };
    let mut out = old.clone();
    for (k, d) in m {
        let base = old.get(k).unwrap_or(&Value::Null);
        out.insert(k.clone(), apply(base, d)?);
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roundtrip(events: &[Value]) -> Vec<Value> {
        let mut w = Chain::default();
        let mut r = Chain::default();
        events
            .iter()
            .map(|e| {
                let mut written = e.clone();
                w.encode(&mut written);
                let line = serde_json::to_string(&written).unwrap();
                let mut read: Value = serde_json::from_str(&line).unwrap();
                r.decode(&mut read).unwrap();
                assert_eq!(&read, e, "written as {line}");
                written
            })
            .collect()
    }

    #[test]
    fn snapshots_read_back_whole_and_repeat_nothing_unchanged() {
        let a = json!({"at":{"secs":1,"nanos":5},"subject":7,"ns":[{"kind":"Uts","inode":1,"error":null}],
            "tree":[{"depth":0,"proc":{"pid":7,"comm":"sh","status":{"rss":100}}},
                    {"depth":1,"proc":{"pid":8,"comm":"hog","status":{"rss":200}}}],
            "mounts":{"Ok":[{"id":1,"target":"/"},{"id":2,"target":"/proc"}]},"memory":{"usage":300},"pids_current":2});
        let mut b = a.clone();
        b["at"]["secs"] = json!(2);
        b["tree"][1]["proc"]["status"]["rss"] = json!(900);
        b["memory"] = json!({"usage": 1000});
        let mut c = b.clone();
        // The first process exits: the second moves up, unchanged.
        c["tree"] = json!([b["tree"][1].clone()]);
        c["mounts"] = json!({"Err": "the subject is gone"});
        c["memory"] = Value::Null;
        let events = vec![
            json!({"kind":"started","steps":[]}),
            json!({"kind":"snapshot","snapshot":a.clone()}),
            json!({"kind":"step","report":{},"before":null,"after":b.clone()}),
            json!({"kind":"step","report":{},"before":b.clone(),"after":c.clone()}),
            json!({"kind":"snapshot","snapshot":c.clone()}),
        ];
        let written = roundtrip(&events);
        assert_eq!(written[1], events[1], "the first snapshot is whole");
        let b_patch = serde_json::to_string(&written[2]["after"]).unwrap();
        assert!(
            !b_patch.contains("/proc") && !b_patch.contains("Uts"),
            "{b_patch}"
        );
        assert!(b_patch.contains("900"), "{b_patch}");
        assert_eq!(written[3]["before"], json!({"since_previous": {}}));
        assert_eq!(written[4]["snapshot"], json!({"since_previous": {}}));
        let c_patch = serde_json::to_string(&written[3]["after"]).unwrap();
        assert!(c_patch.contains("\"tree\":{\"[]\":[1]}"), "{c_patch}");
    }

    #[test]
    fn a_change_with_nothing_before_it_is_an_error() {
        let mut r = Chain::default();
        let mut e = json!({"kind":"snapshot","snapshot":{"since_previous":{}}});
        assert!(r.decode(&mut e).is_err());
    }
}
