//! `underhood lessons list --track NAME`: a track's lessons in its order, with their
//! minutes, the time they start at, your progress, and the checkpoints.

use underhood::lesson::progress::Progress;
use underhood::lesson::set::LessonSet;
use underhood::lesson::track::Track;

pub fn render(set: &LessonSet, track: &Track, progress: &Progress) -> String {
    let mut out = format!("{}: {}\n", track.name(), track.about);
    let ids = track.ids();
    let id_w = ids.iter().map(|i| i.chars().count()).max().unwrap_or(0);
    let mut at = 0;
    for (n, stop) in track.lessons.iter().enumerate() {
        let id = stop.id.get_ref();
        let title = set.get(id).map(|l| l.front.title.as_str()).unwrap_or("");
        let time = match stop.minutes {
            Some(m) => {
                let t = format!("{:>3} min  {}:{:02}  ", m, at / 60, at % 60);
                at += m;
                t
            }
            None => String::new(),
        };
        let status = if progress.passed.contains(id) {
            "  passed"
        } else {
            ""
        };
        out.push_str(&format!(
            "{:>3}  {time}{:<id_w$}  {title}{status}\n",
            n + 1,
            id
        ));
        if let Some(c) = &stop.checkpoint {
            out.push_str(&format!("     checkpoint: {c}\n"));
        }
    }
    if track.minutes() > 0 {
        out.push_str(&format!(
            "{} lessons, {} minutes\n",
            track.lessons.len(),
            track.minutes()
        ));
    } else {
        out.push_str(&format!("{} lessons\n", track.lessons.len()));
    }
    out
}
