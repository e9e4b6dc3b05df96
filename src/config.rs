//! The TOML config file: `[defaults]` and named `[jobs.NAME]` tables, each a settings layer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::settings::Layer;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub defaults: Layer,
    #[serde(default)]
    pub jobs: BTreeMap<String, Layer>,
    #[serde(skip)]
    pub path: PathBuf,
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<ConfigFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        let mut file: ConfigFile = toml::from_str(&text).map_err(|e| {
            let message = e.message().replace('\n', " ");
            let line = e
                .span()
                .map(|span| text[..span.start].matches('\n').count() + 1);
            match line {
                Some(line) => format!("{}:{line}: {message}", path.display()),
                None => format!("{}: {message}", path.display()),
            }
        })?;
        file.path = path.to_path_buf();
        Ok(file)
    }

    /// The layer of the named job, or an error naming the file and the jobs it does have.
    pub fn job(&self, name: &str) -> Result<Layer, String> {
        self.jobs.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.jobs.keys().map(String::as_str).collect();
            format!(
                "{}: no job named {name:?} (jobs: {})",
                self.path.display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        })
    }
}
