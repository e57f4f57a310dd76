//! Read-only views of a process: its namespaces, process tree, mounts, memory.
//! Parsing (`&str -> T`) is kept apart from reading, so parsers are tested on real lines.
