//! Test-only fail points: named places where a fault test can make the process
//! stop dead, to prove recovery from a crash at exactly that point.
//!
//! Armed from `FAILPOINTS` (e.g. `create_run.after_commit=exit`), which production
//! never sets; unarmed fail points cost one hash lookup on an empty map.

use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone)]
pub enum Action {
    /// Exit the process at once, as `kill -9` would (no destructors, no flushing).
    Exit,
    /// Run a check at that point (in-process tests only).
    Hook(Arc<dyn Fn() + Send + Sync>),
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Exit => f.write_str("Exit"),
            Action::Hook(_) => f.write_str("Hook"),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Failpoints(Arc<HashMap<String, Action>>);

impl Failpoints {
    /// Parses `name=exit[,name=exit]`; unknown actions are ignored.
    pub fn parse(spec: &str) -> Self {
        let map = spec
            .split(',')
            .filter_map(|item| item.split_once('='))
            .filter_map(|(name, action)| match action.trim() {
                "exit" => Some((name.trim().to_owned(), Action::Exit)),
                _ => None,
            })
            .collect();
        Failpoints(Arc::new(map))
    }

    pub fn from_env() -> Self {
        crate::config::optional("FAILPOINTS")
            .map(|s| {
                tracing::warn!(failpoints = %s, "test fail points are armed");
                Failpoints::parse(&s)
            })
            .unwrap_or_default()
    }

    /// Arms `name` with `action` (in-process tests).
    pub fn with(mut self, name: &str, action: Action) -> Self {
        Arc::make_mut(&mut self.0).insert(name.to_owned(), action);
        self
    }

    pub fn hit(&self, name: &str) {
        match self.0.get(name) {
            None => {}
            Some(Action::Exit) => {
                tracing::warn!(failpoint = name, "fail point reached: exiting");
                std::process::exit(86);
            }
            Some(Action::Hook(f)) => f(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_named_exit_points_and_ignores_the_rest() {
        let f = Failpoints::parse("create_run.after_commit=exit, other=sleep,broken");
        assert!(matches!(
            f.0.get("create_run.after_commit"),
            Some(Action::Exit)
        ));
        assert_eq!(f.0.len(), 1);
        f.hit("not-armed");
    }
}
