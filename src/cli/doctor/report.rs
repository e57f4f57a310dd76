//! The verdicts as text for a person, or as JSON for an organiser.

use super::{Check, Status};

/// 1 when something the lessons need is missing.
pub fn exit_code(checks: &[Check]) -> u8 {
    u8::from(checks.iter().any(|c| c.status == Status::No))
}

/// The report: a header, one aligned line per check with `why`/`fix` under it, a summary.
pub fn render(checks: &[Check], colour: bool) -> String {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let paint = |s: Status| {
        let label = format!("{:<4}", s.label());
        if !colour {
            return label;
        }
        let code = match s {
            Status::Yes => "32",
            Status::No => "1;31",
            Status::Warn => "33",
            Status::Skip => "2",
        };
        format!("\x1b[{code}m{label}\x1b[0m")
    };
    let mut out = String::from("underhood doctor: can this machine run the lessons?\n\n");
    for c in checks {
        out.push_str(&format!(
            "  {}  {:<width$}  {}\n",
            paint(c.status),
            c.name,
            c.found
        ));
        let indent = " ".repeat(2 + 4 + 2 + width + 2);
        if let Some(w) = &c.why {
            out.push_str(&format!("{indent}why: {w}\n"));
        }
        if let Some(f) = &c.fix {
            out.push_str(&format!("{indent}fix: {f}\n"));
        }
    }
    let missing: Vec<&str> = checks
        .iter()
        .filter(|c| c.status == Status::No)
        .map(|c| c.name.trim())
        .collect();
    out.push('\n');
    if missing.is_empty() {
        out.push_str("Everything the lessons need is here.");
        if checks.iter().any(|c| c.status == Status::Warn) {
            out.push_str(" Lines marked warn are worth a look.");
        }
        out.push('\n');
    } else {
        out.push_str(&format!(
            "Missing for the lessons: {}. See the `fix:` lines above.\n",
            missing.join(", ")
        ));
    }
    out
}

/// Version of the `--json` report's shape; bump when a field changes meaning.
const JSON_FORMAT: u32 = 1;

/// The report as one JSON object, for an organiser collecting a room's readiness
/// before a workshop: `{"format", "underhood", "host", "ready", "checks": [...]}`,
/// each check with `name`, `status` (yes/no/warn/skip), `found`, `why`, `fix`.
pub fn render_json(checks: &[Check], host: &str) -> String {
    let value = serde_json::json!({
        "format": JSON_FORMAT,
        "underhood": crate::cli::version::LONG,
        "host": host,
        "ready": exit_code(checks) == 0,
        // Names are indented in the report under the line they belong to; not here.
        "checks": checks.iter().map(|c| serde_json::json!({
            "name": c.name.trim(),
            "status": c.status,
            "found": c.found,
            "why": c.why,
            "fix": c.fix,
        })).collect::<Vec<_>>(),
    });
    format!("{value}\n")
}
