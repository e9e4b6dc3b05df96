//! The memory and pids controllers of cgroup v2 for the run's cgroup, which is made in cronbeat's own
//! cgroup (`supervise::cgroup`). A controller reaches the cgroups made there only once it is in the own
//! cgroup's `cgroup.subtree_control`, and the kernel enables one there only in a cgroup without processes
//! of its own (cgroup v2's "no internal processes" rule; the root cgroup is exempt), while cronbeat lives
//! in its own cgroup, as a systemd unit's main process does under `Delegate=yes`. So where the controller
//! is in the own cgroup's `cgroup.controllers` but not yet handed down, cronbeat moves itself into a leaf
//! of its own, `cronbeat-<pid>-self`, enables the controller, and the run's cgroup is made beside the leaf:
//! its `cgroup.kill` and its counters are the run's alone, cronbeat's own memory and CPU are not in them.
//! Where another process shares the cgroup the kernel refuses (EBUSY), cronbeat moves back and the run
//! is refused: never run without a limit asked for.
//!
//! The file system is reached through [`Fs`], so that the tests can run the decision and the sequence of
//! writes on a directory tree with the kernel's rules modelled: this machine's cgroup v2 has no
//! memory or pids controller to hand down.

use std::io;
use std::path::{Path, PathBuf};

/// cronbeat's own cgroup v2, where the run's cgroups are made, as `supervise::cgroup::home` found it
/// when the run began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    pub dir: PathBuf,
    /// The leaf of `dir` cronbeat moves itself into where the kernel wants `dir` empty.
    pub leaf: PathBuf,
    /// Why cronbeat may not make cgroups in `dir`, if it may not.
    pub barred: Option<String>,
}

impl Home {
    /// The directory, where cronbeat may make cgroups in it.
    pub fn usable(&self) -> Option<&Path> {
        self.barred.is_none().then_some(self.dir.as_path())
    }
}

/// What a cgroup file system does for the hand-over: the kernel's in a run, a model in the tests.
pub trait Fs {
    fn read(&self, path: &Path) -> io::Result<String>;
    fn write(&self, path: &Path, value: &str) -> io::Result<()>;
    fn mkdir(&self, path: &Path) -> io::Result<()>;
    fn rmdir(&self, path: &Path) -> io::Result<()>;
}

/// The cgroup2 file system itself.
pub struct Kernel;

impl Fs for Kernel {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        std::fs::write(path, value)
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }
}

/// What cronbeat's cgroup v2 offers the run's cgroup of one controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// Handed down already (in the own cgroup's `cgroup.subtree_control`).
    Enabled,
    /// The own cgroup has it (`cgroup.controllers`) and cronbeat may divide the cgroup: [`hand_down`].
    Available,
    /// Not on cgroup v2 here, so perhaps on its v1 hierarchy; why not on v2.
    Absent(String),
    /// On cgroup v2 (so on no v1 hierarchy), but cronbeat may not make cgroups in its own: why.
    Barred(String),
}

/// What `home`, cronbeat's own cgroup v2 (`None` where there is none), offers of `controller`.
pub fn offer(fs: &dyn Fs, home: Option<&Home>, controller: &str) -> Offer {
    let Some(home) = home else {
        return Offer::Absent("cronbeat is in no cgroup v2 it can see".to_string());
    };
    let listed = |file: &str| {
        fs.read(&home.dir.join(file))
            .is_ok_and(|text| text.split_whitespace().any(|c| c == controller))
    };
    if !listed("cgroup.controllers") {
        return Offer::Absent(format!(
            "cronbeat's cgroup v2 {} does not have it (not in its cgroup.controllers)",
            home.dir.display()
        ));
    }
    if let Some(why) = &home.barred {
        return Offer::Barred(why.clone());
    }
    if listed("cgroup.subtree_control") {
        Offer::Enabled
    } else {
        Offer::Available
    }
}

/// Enables `controllers` (offered as [`Offer::Available`]) in the `cgroup.subtree_control` of `home`, the
/// own cgroup of cronbeat (process `pid`), moving cronbeat into its leaf first where the kernel wants
/// the cgroup empty. Returns the leaf cronbeat moved into, if it moved; on failure cronbeat is back
/// where it was, and the reason names the real cause.
pub fn hand_down(
    fs: &dyn Fs,
    home: &Home,
    pid: u32,
    controllers: &[&str],
) -> Result<Option<PathBuf>, String> {
    let (leaf, home) = (home.leaf.clone(), home.dir.as_path());
    let control = home.join("cgroup.subtree_control");
    let value = controllers
        .iter()
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(" ");
    let cannot = |e: io::Error| format!("cannot write {value} to {}: {e}", control.display());
    // The root cgroup takes them with cronbeat in it, and most cgroups take pids alone; memory, in
    // any other cgroup cronbeat is in, is EBUSY.
    match fs.write(&control, &value) {
        Ok(()) => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
        Err(e) => return Err(cannot(e)),
    }
    match fs.mkdir(&leaf) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            return Err(format!("cannot make the cgroup {}: {e}", leaf.display()))
        }
        _ => {}
    }
    if let Err(e) = fs.write(&leaf.join("cgroup.procs"), &pid.to_string()) {
        let _ = fs.rmdir(&leaf);
        return Err(format!("cannot move cronbeat into {}: {e}", leaf.display()));
    }
    let Err(e) = fs.write(&control, &value) else {
        return Ok(Some(leaf));
    };
    // Back where it was, the leaf gone: the cgroup is as cronbeat found it.
    let _ = fs.write(&home.join("cgroup.procs"), &pid.to_string());
    let _ = fs.rmdir(&leaf);
    if e.raw_os_error() != Some(libc::EBUSY) {
        return Err(cannot(e));
    }
    let others: Vec<String> = fs
        .read(&home.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter(|p| *p != pid.to_string())
        .map(
            |p| match std::fs::read_to_string(format!("/proc/{p}/comm")) {
                Ok(name) => format!("pid {p} ({})", name.trim_end()),
                Err(_) => format!("pid {p}"),
            },
        )
        .collect();
    let named = if others.is_empty() {
        String::new()
    } else {
        format!(" ({})", others.join(", "))
    };
    Err(format!(
        "cgroup v2 {} has other processes{named}, so its {} controller{} cannot be given to the run",
        home.display(),
        controllers.join(" and "),
        if controllers.len() > 1 { "s" } else { "" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervise::cgroup;
    use std::cell::RefCell;

    /// A directory tree laid out like cgroupfs, with the rules of the kernel the hand-over meets: a
    /// new cgroup gets the interface files and, as `cgroup.controllers`, its parent's
    /// `cgroup.subtree_control`, with the controllers' files; a process is in one cgroup at a time; a
    /// non-root cgroup (one with `cgroup.type`) cannot both hold processes and hand a domain controller
    /// (memory, io) down (EBUSY either way), while a threaded one (pids, cpu) it can; a controller not
    /// in `cgroup.controllers` cannot be enabled (ENOENT); a cgroup with processes cannot be removed.
    /// What it cannot show: the kernel's own checks of permissions, threaded cgroups and the finer
    /// conditions on threaded controllers (no populated child cgroups), and delegation by systemd.
    struct Model {
        root: tempfile::TempDir,
        writes: RefCell<Vec<(PathBuf, String)>>,
    }

    impl Model {
        /// The cgroup `home` (below the root of the tree) with `controllers`, holding `procs`, with
        /// `enabled` handed down.
        fn new(controllers: &str, enabled: &str, procs: &[u32]) -> Model {
            let model = Model {
                root: tempfile::tempdir().unwrap(),
                writes: RefCell::new(Vec::new()),
            };
            let home = model.home();
            std::fs::create_dir_all(&home).unwrap();
            let file = |name: &str, text: &str| std::fs::write(home.join(name), text).unwrap();
            file("cgroup.controllers", controllers);
            file("cgroup.subtree_control", enabled);
            file("cgroup.type", "domain\n");
            let listed: Vec<String> = procs.iter().map(u32::to_string).collect();
            file("cgroup.procs", &listed.join("\n"));
            model
        }

        fn home(&self) -> PathBuf {
            self.root.path().join("system.slice").join("backup.service")
        }

        fn text(&self, path: &Path) -> String {
            std::fs::read_to_string(path).unwrap_or_default()
        }

        fn words(&self, path: &Path) -> Vec<String> {
            self.text(path)
                .split_whitespace()
                .map(str::to_string)
                .collect()
        }

        fn busy() -> io::Error {
            io::Error::from_raw_os_error(libc::EBUSY)
        }

        /// Every cgroup of the tree.
        fn cgroups(dir: &Path) -> Vec<PathBuf> {
            let mut found = vec![dir.to_path_buf()];
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                if entry.file_type().unwrap().is_dir() {
                    found.extend(Model::cgroups(&entry.path()));
                }
            }
            found
        }
    }

    impl Fs for Model {
        fn read(&self, path: &Path) -> io::Result<String> {
            std::fs::read_to_string(path)
        }

        fn write(&self, path: &Path, value: &str) -> io::Result<()> {
            self.writes
                .borrow_mut()
                .push((path.to_path_buf(), value.to_string()));
            let dir = path.parent().unwrap();
            let non_root = dir.join("cgroup.type").exists();
            match path.file_name().unwrap().to_str().unwrap() {
                "cgroup.procs" => {
                    let enabled = self.words(&dir.join("cgroup.subtree_control"));
                    if non_root && enabled.iter().any(|c| domain(c)) {
                        return Err(Model::busy());
                    }
                    for cgroup in Model::cgroups(self.root.path()) {
                        let procs = cgroup.join("cgroup.procs");
                        let left: Vec<String> = self
                            .words(&procs)
                            .into_iter()
                            .filter(|p| p != value)
                            .collect();
                        if procs.exists() {
                            std::fs::write(&procs, left.join("\n"))?;
                        }
                    }
                    let mut procs = self.words(path);
                    procs.push(value.to_string());
                    std::fs::write(path, procs.join("\n"))
                }
                "cgroup.subtree_control" => {
                    let enabling_domain = value
                        .split_whitespace()
                        .any(|w| w.strip_prefix('+').is_some_and(domain));
                    if non_root
                        && enabling_domain
                        && !self.words(&dir.join("cgroup.procs")).is_empty()
                    {
                        return Err(Model::busy());
                    }
                    let available = self.words(&dir.join("cgroup.controllers"));
                    let mut enabled = self.words(path);
                    for word in value.split_whitespace() {
                        let name = word.trim_start_matches(['+', '-']);
                        if !available.iter().any(|c| c == name) {
                            return Err(io::Error::from_raw_os_error(libc::ENOENT));
                        }
                        enabled.retain(|c| c != name);
                        if word.starts_with('+') {
                            enabled.push(name.to_string());
                        }
                    }
                    std::fs::write(path, enabled.join(" "))
                }
                _ => std::fs::write(path, value),
            }
        }

        fn mkdir(&self, path: &Path) -> io::Result<()> {
            std::fs::create_dir(path)?;
            let parent = self.words(&path.parent().unwrap().join("cgroup.subtree_control"));
            let file = |name: &str, text: &str| std::fs::write(path.join(name), text);
            file("cgroup.controllers", &parent.join(" "))?;
            file("cgroup.subtree_control", "")?;
            file("cgroup.type", "domain\n")?;
            file("cgroup.procs", "")?;
            file("cgroup.kill", "")?;
            file("cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n")?;
            if parent.iter().any(|c| c == "memory") {
                file("memory.max", "max\n")?;
                file("memory.peak", "0\n")?;
            }
            if parent.iter().any(|c| c == "pids") {
                file("pids.max", "max\n")?;
            }
            Ok(())
        }

        fn rmdir(&self, path: &Path) -> io::Result<()> {
            if !self.words(&path.join("cgroup.procs")).is_empty() {
                return Err(Model::busy());
            }
            std::fs::remove_dir_all(path)
        }
    }

    /// A domain controller of cgroup v2, which the "no internal processes" rule holds to.
    fn domain(controller: &str) -> bool {
        !["cpu", "cpuset", "perf_event", "pids"].contains(&controller)
    }

    const PID: u32 = 4242;

    fn home_of(model: &Model) -> Home {
        Home {
            dir: model.home(),
            leaf: cgroup::ours(&model.home(), "self"),
            barred: None,
        }
    }

    #[test]
    fn a_controller_handed_down_already_is_used_as_it_is() {
        let model = Model::new("cpu memory pids", "memory pids", &[]);
        let home = home_of(&model);
        assert_eq!(offer(&model, Some(&home), "memory"), Offer::Enabled);
        assert_eq!(offer(&model, Some(&home), "pids"), Offer::Enabled);
        let limits = crate::cost::Limits {
            memory_max: Some(1 << 30),
            tasks_max: Some(10),
        };
        let prepared =
            crate::cost::Prepared::made(&model, limits, "0123abcd", Some(home), PID).unwrap();
        assert!(prepared.needs_v2());
        assert_eq!(prepared.home(), Some(model.home().as_path()));
        assert!(model.writes.borrow().is_empty());
    }

    #[test]
    fn an_available_controller_is_handed_down_from_a_leaf_beside_the_runs_cgroup() {
        // A unit's cgroup under Delegate=yes: the controllers are its, and its main process is in it.
        let model = Model::new("cpu io memory pids", "", &[PID]);
        let home = home_of(&model);
        assert_eq!(offer(&model, Some(&home), "memory"), Offer::Available);
        assert_eq!(offer(&model, Some(&home), "pids"), Offer::Available);

        let limits = crate::cost::Limits {
            memory_max: Some(64 << 20),
            tasks_max: Some(50),
        };
        let prepared =
            crate::cost::Prepared::made(&model, limits, "0123abcd", Some(home.clone()), PID)
                .unwrap();
        assert_eq!(prepared.home(), Some(model.home().as_path()));
        let leaf = cgroup::ours(&model.home(), "self");
        let control = model.home().join("cgroup.subtree_control");
        // The sequence: enabling is refused while cronbeat is in the cgroup; in the leaf, it is not.
        assert_eq!(
            *model.writes.borrow(),
            [
                (control.clone(), "+memory +pids".to_string()),
                (leaf.join("cgroup.procs"), PID.to_string()),
                (control.clone(), "+memory +pids".to_string()),
            ]
        );
        assert_eq!(leaf.parent(), Some(model.home().as_path()));
        assert_eq!(
            leaf.file_name().unwrap().to_str().unwrap(),
            format!("cronbeat-{}-self", std::process::id())
        );
        assert_eq!(model.words(&control), ["memory", "pids"]);
        assert!(model.words(&model.home().join("cgroup.procs")).is_empty());
        assert_eq!(model.words(&leaf.join("cgroup.procs")), [PID.to_string()]);
        assert_eq!(offer(&model, Some(&home), "memory"), Offer::Enabled);

        // The run's cgroup, named as supervise::cgroup names it, is the leaf's sibling and has the
        // controllers; the limits go there and the command can be started in it.
        let run = cgroup::ours(&model.home(), "0123abcd");
        model.mkdir(&run).unwrap();
        assert_eq!(run.parent(), leaf.parent());
        assert_eq!(
            model.words(&run.join("cgroup.controllers")),
            ["memory", "pids"]
        );
        prepared.apply_v2(&run).unwrap();
        assert_eq!(
            model.text(&run.join("memory.max")),
            (64u64 << 20).to_string()
        );
        assert_eq!(model.text(&run.join("pids.max")), "50");
        model.write(&run.join("cgroup.procs"), "4343").unwrap();
        assert_eq!(model.words(&run.join("cgroup.procs")), ["4343"]);
        // Its end: the run's cgroup goes once its processes are gone; the leaf holds cronbeat and
        // stays while it lives.
        std::fs::write(run.join("cgroup.procs"), "").unwrap();
        model.rmdir(&run).unwrap();
        assert_eq!(
            model.rmdir(&leaf).unwrap_err().raw_os_error(),
            Some(libc::EBUSY)
        );
    }

    #[test]
    fn a_cgroup_shared_with_other_processes_is_refused_and_left_as_found() {
        // `ExecStart=sh -c 'cronbeat …'`: the shell is in the unit's cgroup too.
        let model = Model::new("memory pids", "", &[17, PID]);
        let home = home_of(&model);
        assert_eq!(offer(&model, Some(&home), "memory"), Offer::Available);
        let why = hand_down(&model, &home_of(&model), PID, &["memory"]).unwrap_err();
        assert!(
            why.starts_with(&format!(
                "cgroup v2 {} has other processes (pid 17",
                model.home().display()
            )) && why.ends_with("), so its memory controller cannot be given to the run"),
            "{why}"
        );
        // cronbeat is back in its cgroup, the leaf is gone, nothing is enabled.
        let mut procs = model.words(&model.home().join("cgroup.procs"));
        procs.sort();
        assert_eq!(procs, ["17", &PID.to_string()]);
        assert!(!cgroup::ours(&model.home(), "self").exists());
        assert!(model
            .words(&model.home().join("cgroup.subtree_control"))
            .is_empty());

        // The run is refused with the one line that names the limits and the cause.
        let limits = crate::cost::Limits {
            memory_max: Some(64 << 20),
            tasks_max: Some(50),
        };
        let Err(line) = crate::cost::Prepared::made(&model, limits, "0123abcd", Some(home), PID)
        else {
            panic!("the run was not refused");
        };
        assert!(
            line.starts_with(&format!(
                "--memory-max 64 MiB, --tasks-max 50: the memory and pids controllers cannot be used here: cgroup v2 {} has other processes (pid 17",
                model.home().display()
            )) && line.ends_with(
                "so its memory and pids controllers cannot be given to the run; the run was not started"
            ),
            "{line}"
        );
    }

    #[test]
    fn the_pids_controller_alone_is_handed_down_with_cronbeat_where_it_is() {
        let model = Model::new("memory pids", "", &[PID]);
        assert_eq!(
            hand_down(&model, &home_of(&model), PID, &["pids"]),
            Ok(None)
        );
        assert_eq!(
            model.words(&model.home().join("cgroup.subtree_control")),
            ["pids"]
        );
        assert_eq!(
            model.words(&model.home().join("cgroup.procs")),
            [PID.to_string()]
        );
        // Memory later, in another run: now cronbeat moves.
        let leaf = hand_down(&model, &home_of(&model), PID, &["memory"]).unwrap();
        assert_eq!(leaf, Some(cgroup::ours(&model.home(), "self")));
    }

    #[test]
    fn the_root_cgroup_takes_the_controllers_with_cronbeat_in_it() {
        let model = Model::new("memory pids", "", &[PID]);
        std::fs::remove_file(model.home().join("cgroup.type")).unwrap();
        assert_eq!(
            hand_down(&model, &home_of(&model), PID, &["memory", "pids"]),
            Ok(None)
        );
        assert_eq!(
            model.words(&model.home().join("cgroup.subtree_control")),
            ["memory", "pids"]
        );
        assert_eq!(
            model.words(&model.home().join("cgroup.procs")),
            [PID.to_string()]
        );
    }

    #[test]
    fn a_controller_not_on_cgroup_v2_leaves_it_to_v1_or_says_why_not() {
        // This machine: a cgroup v2 mount without controllers, memory on its v1 hierarchy.
        let model = Model::new("", "", &[PID]);
        let home = home_of(&model);
        assert_eq!(
            offer(&model, Some(&home), "memory"),
            Offer::Absent(format!(
                "cronbeat's cgroup v2 {} does not have it (not in its cgroup.controllers)",
                model.home().display()
            ))
        );
        assert_eq!(
            offer(&model, None, "pids"),
            Offer::Absent("cronbeat is in no cgroup v2 it can see".to_string())
        );
        assert!(model.writes.borrow().is_empty());
    }

    #[test]
    fn a_cgroup_cronbeat_may_not_divide_is_named_as_the_reason() {
        let model = Model::new("memory pids", "memory", &[PID]);
        let barred = Home {
            barred: Some("cronbeat may not write to its cgroup v2 /x".to_string()),
            ..home_of(&model)
        };
        // Had by cgroup v2, so by no v1 hierarchy: the reason is v2's, whatever v1 would say.
        for controller in ["memory", "pids"] {
            assert_eq!(
                offer(&model, Some(&barred), controller),
                Offer::Barred("cronbeat may not write to its cgroup v2 /x".to_string())
            );
        }
        let limits = crate::cost::Limits {
            memory_max: None,
            tasks_max: Some(50),
        };
        let Err(line) = crate::cost::Prepared::made(&model, limits, "0123abcd", Some(barred), PID)
        else {
            panic!("the run was not refused");
        };
        assert_eq!(
            line,
            "--tasks-max 50: the pids controller cannot be used here: cronbeat may not write to its cgroup v2 /x; the run was not started"
        );
        assert!(model.writes.borrow().is_empty());
    }

    #[test]
    fn a_controller_the_kernel_will_not_enable_is_named() {
        // Listed in cgroup.controllers of a tree whose parent no longer hands it down.
        let model = Model::new("memory", "", &[PID]);
        std::fs::write(model.home().join("cgroup.controllers"), "").unwrap();
        let why = hand_down(&model, &home_of(&model), PID, &["memory"]).unwrap_err();
        assert!(
            why.starts_with("cannot write +memory to ") && why.contains("cgroup.subtree_control: "),
            "{why}"
        );
        assert!(!cgroup::ours(&model.home(), "self").exists());
    }
}
