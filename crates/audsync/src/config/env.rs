//! `Environment`: where configuration reads environment variables from, so tests never touch
//! the process environment (setting variables is `unsafe` in edition 2024, and we forbid it).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The variables `${VAR}` interpolation and secret-key lookup read.
#[derive(Clone)]
pub struct Environment {
    vars: Vars,
}

#[derive(Clone)]
enum Vars {
    Process,
    Fixed(BTreeMap<String, String>),
}

impl Environment {
    /// The process environment.
    pub fn from_process() -> Environment {
        Environment {
            vars: Vars::Process,
        }
    }

    /// A fixed set of variables (tests, embedding).
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Environment {
        Environment {
            vars: Vars::Fixed(
                vars.into_iter()
                    .map(|(name, value)| (name.into(), value.into()))
                    .collect(),
            ),
        }
    }

    /// A variable's value; `None` when unset or not valid UTF-8.
    pub fn var(&self, name: &str) -> Option<String> {
        match &self.vars {
            Vars::Process => std::env::var(name).ok(),
            Vars::Fixed(vars) => vars.get(name).cloned(),
        }
    }

    /// The user's configuration folder: `$XDG_CONFIG_HOME`, else `$HOME/.config`.
    pub fn config_home(&self) -> Option<PathBuf> {
        if let Some(config_home) = self.var("XDG_CONFIG_HOME").filter(|dir| !dir.is_empty()) {
            return Some(PathBuf::from(config_home));
        }
        self.var("HOME")
            .filter(|home| !home.is_empty())
            .map(|home| PathBuf::from(home).join(".config"))
    }
}

/// Never prints values: they may be secrets.
impl std::fmt::Debug for Environment {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.vars {
            Vars::Process => formatter.write_str("Environment(process)"),
            Vars::Fixed(vars) => formatter
                .debug_struct("Environment")
                .field("names", &vars.keys().collect::<Vec<_>>())
                .finish(),
        }
    }
}
