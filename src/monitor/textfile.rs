//! node_exporter textfile collector: `textfile:/var/lib/node_exporter/backup.prom`.
//! The file holds the batch-job metrics with a `job_name` label (the file's stem, so files in one
//! directory never collide), and is replaced whole (temp file + rename) at the start and the finish.
//! What a push does not update is carried over from the file as it was: the previous run's results at
//! the start, the last success after a failure.

use std::path::PathBuf;
use std::time::SystemTime;

use super::metrics::{self, Values};
use super::protocol::{Action, Protocol, RunInfo};
use crate::events::Report;

pub struct Textfile {
    path: PathBuf,
    job_name: String,
}

impl Textfile {
    pub fn new(path: &str) -> Result<Textfile, String> {
        let path = PathBuf::from(path.trim());
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| !s.is_empty());
        match (stem, path.extension().and_then(|e| e.to_str())) {
            (Some(stem), Some("prom")) => Ok(Textfile {
                job_name: stem.to_string(),
                path,
            }),
            _ => Err(format!(
                "textfile:{}: node_exporter reads only files named *.prom",
                path.display()
            )),
        }
    }

    /// The metrics in the file now; none when it does not exist or cannot be read.
    fn previous(&self) -> Values {
        std::fs::read_to_string(&self.path)
            .map(|text| metrics::parse(&text))
            .unwrap_or_default()
    }

    fn write(&self, mut values: Values) -> Action {
        let previous = self.previous();
        for (name, samples) in previous {
            if !values.iter().any(|(n, _)| *n == name) {
                values.push((name, samples));
            }
        }
        let labels = [("job_name".to_string(), self.job_name.clone())];
        Action::WriteFile {
            path: self.path.clone(),
            contents: metrics::render(&values, &labels).into_bytes(),
        }
    }
}

impl Protocol for Textfile {
    fn kind(&self) -> &'static str {
        "textfile"
    }

    fn target(&self) -> String {
        self.path.display().to_string()
    }

    fn start(&mut self, run: &RunInfo) -> Vec<Action> {
        vec![self.write(metrics::at_start(SystemTime::now(), run))]
    }

    fn finish(&mut self, run: &RunInfo, report: &Report) -> Vec<Action> {
        vec![self.write(metrics::at_finish(report, run))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_prom_files() {
        assert_eq!(
            Textfile::new("/var/lib/ne/backup.prom").unwrap().job_name,
            "backup"
        );
        assert!(Textfile::new("/var/lib/ne/backup.txt").is_err());
        assert!(Textfile::new("").is_err());
    }
}
