//! The screen's vocabulary, below everything else in ui/: the panes, which shells are
//! open, and which pane shows which shell. A leaf: it imports nothing of ui/.

use crate::session::event::Slot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Step,
    Syscalls,
    /// The embedded shell, while one is open.
    Shell,
    /// The shell that entered the container with setns, while one is open.
    Entered,
    /// A shell on the host (not in the container), while one is open.
    Host,
    Namespaces,
    Processes,
    Mounts,
    Memory,
}

impl Pane {
    pub const ALL: [Pane; 9] = [
        Pane::Step,
        Pane::Shell,
        Pane::Entered,
        Pane::Host,
        Pane::Syscalls,
        Pane::Namespaces,
        Pane::Processes,
        Pane::Mounts,
        Pane::Memory,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Step => "Step",
            Pane::Syscalls => "Syscalls",
            Pane::Shell => "Shell",
            Pane::Entered => "Entered",
            Pane::Host => "Host",
            Pane::Namespaces => "Namespaces",
            Pane::Processes => "Processes",
            Pane::Mounts => "Mounts",
            Pane::Memory => "Memory",
        }
    }

    /// The next pane in focus order among those shown (a shell only while open, the
    /// syscalls only while no shell is).
    pub fn offset(self, by: isize, open: Open) -> Pane {
        let shown: Vec<Pane> = Pane::ALL
            .iter()
            .copied()
            .filter(|p| match p {
                Pane::Syscalls => !open.any(),
                // Tab never goes into a shell: there it would be a key typed into the
                // shell, and Tab could not leave again. s, e, h (or a click) do.
                Pane::Shell | Pane::Entered | Pane::Host => false,
                _ => open.shows(*p),
            })
            .collect();
        let i = shown.iter().position(|p| *p == self).unwrap_or(0) as isize;
        let n = shown.len() as isize;
        shown[((i + by).rem_euclid(n)) as usize]
    }
}

/// Which shells are open (or about to be: the layout sizes a shell before it opens).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Open {
    pub spawned: bool,
    pub entered: bool,
    pub host: bool,
}

impl Open {
    /// These, and `slot` too.
    pub fn with(mut self, slot: Slot) -> Open {
        match slot {
            Slot::Spawned => self.spawned = true,
            Slot::Entered => self.entered = true,
            Slot::Host => self.host = true,
        }
        self
    }

    pub fn has(self, slot: Slot) -> bool {
        match slot {
            Slot::Spawned => self.spawned,
            Slot::Entered => self.entered,
            Slot::Host => self.host,
        }
    }

    pub fn any(self) -> bool {
        self.spawned || self.entered || self.host
    }

    /// Whether pane `p` can be shown: a shell pane only while its shell is open.
    pub fn shows(self, p: Pane) -> bool {
        match slot_of(p) {
            Some(slot) => self.has(slot),
            None => true,
        }
    }
}

/// The pane a shell slot is drawn in.
pub fn pane_of(slot: Slot) -> Pane {
    match slot {
        Slot::Spawned => Pane::Shell,
        Slot::Entered => Pane::Entered,
        Slot::Host => Pane::Host,
    }
}

/// The shell slot a pane shows, if it is a shell pane.
pub fn slot_of(pane: Pane) -> Option<Slot> {
    Slot::ALL.into_iter().find(|s| pane_of(*s) == pane)
}
