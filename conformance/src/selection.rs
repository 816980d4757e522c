//! Choosing checks with `--only` and `--skip` patterns.

use crate::catalog::{Catalog, PREFLIGHT_CATEGORY};

/// An invalid selection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error(
        "pattern {pattern:?} in {option} matches no check; `aresgen-hooks conformance list` shows the ids"
    )]
    NoMatch {
        option: &'static str,
        pattern: String,
    },
    #[error(
        "pattern {pattern:?} in --skip matches preflight check {id}, which always runs because every other result depends on it: narrow the pattern so that it leaves out the pre.* checks"
    )]
    SkipsPreflight { pattern: String, id: String },
    #[error(
        "the selection is empty: --only and --skip leave no check besides the preflight (pre.*) to run: select at least one other check, see `aresgen-hooks conformance list`"
    )]
    Empty,
}

/// Returns the ids of the checks to run besides the preflight, in catalog order.
///
/// A pattern is a check id in which `*` matches any run of characters, such as `sig.*` or
/// `ts.004`. With no `--only` patterns every check is selected. A pattern that matches no
/// check is an error, so a typo never silently changes the selection. The preflight always
/// runs, so a selection of preflight checks alone is empty.
pub fn select(
    catalog: &Catalog,
    only: &[String],
    skip: &[String],
) -> Result<Vec<String>, SelectionError> {
    for (option, patterns) in [("--only", only), ("--skip", skip)] {
        for pattern in patterns {
            if !catalog
                .checks
                .iter()
                .any(|check| matches(pattern, &check.id))
            {
                return Err(SelectionError::NoMatch {
                    option,
                    pattern: pattern.clone(),
                });
            }
        }
    }
    let selected: Vec<String> = catalog
        .checks
        .iter()
        .filter(|check| check.category != PREFLIGHT_CATEGORY)
        .filter(|check| only.is_empty() || only.iter().any(|p| matches(p, &check.id)))
        .filter(|check| !skip.iter().any(|p| matches(p, &check.id)))
        .map(|check| check.id.clone())
        .collect();
    // An empty selection is reported first, because its fix also covers `--skip '*'`.
    if selected.is_empty() {
        return Err(SelectionError::Empty);
    }
    for pattern in skip {
        if let Some(check) = catalog
            .checks
            .iter()
            .find(|check| check.category == PREFLIGHT_CATEGORY && matches(pattern, &check.id))
        {
            return Err(SelectionError::SkipsPreflight {
                pattern: pattern.clone(),
                id: check.id.clone(),
            });
        }
    }
    Ok(selected)
}

/// Matches `text` against a pattern where `*` stands for any run of characters.
pub fn matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(index) => rest = &rest[index + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_matching_cases() {
        assert!(matches("sig.*", "sig.001"));
        assert!(matches("ts.004", "ts.004"));
        assert!(!matches("ts.004", "ts.0041"));
        assert!(matches("*.001", "body.001"));
        assert!(matches("*", "idem.003"));
        assert!(matches("b*y.0*1", "body.011"));
        assert!(!matches("sig.*", "ts.001"));
        assert!(!matches("s*g*g", "sig"));
    }

    #[test]
    fn select_applies_only_and_skip() {
        let catalog = Catalog::builtin().unwrap();
        let only = vec!["sig.*".to_owned()];
        let skip = vec!["sig.009".to_owned()];
        let selected = select(&catalog, &only, &skip).unwrap();
        assert!(selected.contains(&"sig.001".to_owned()));
        assert!(!selected.contains(&"sig.009".to_owned()));
        assert!(selected.iter().all(|id| id.starts_with("sig.")));
    }

    #[test]
    fn select_rejects_unknown_pattern() {
        let catalog = Catalog::builtin().unwrap();
        let error = select(&catalog, &["sgi.*".to_owned()], &[]).unwrap_err();
        assert!(matches!(error, SelectionError::NoMatch { .. }));
    }

    #[test]
    fn select_rejects_empty_selection() {
        let catalog = Catalog::builtin().unwrap();
        let error = select(&catalog, &["sig.001".to_owned()], &["sig.*".to_owned()]).unwrap_err();
        assert_eq!(error, SelectionError::Empty);
    }

    #[test]
    fn select_of_preflight_alone_is_empty() {
        let catalog = Catalog::builtin().unwrap();
        let error = select(&catalog, &["pre.*".to_owned()], &[]).unwrap_err();
        assert_eq!(error, SelectionError::Empty);
        assert!(error.to_string().contains("conformance list"), "{error}");
    }

    #[test]
    fn select_skipping_everything_is_empty() {
        let catalog = Catalog::builtin().unwrap();
        let error = select(&catalog, &[], &["*".to_owned()]).unwrap_err();
        assert_eq!(error, SelectionError::Empty);
    }

    #[test]
    fn select_leaves_preflight_out_of_result() {
        let catalog = Catalog::builtin().unwrap();
        let selected = select(&catalog, &[], &[]).unwrap();
        assert!(selected.iter().all(|id| !id.starts_with("pre.")));
    }

    #[test]
    fn select_rejects_skipping_preflight() {
        let catalog = Catalog::builtin().unwrap();
        let error = select(&catalog, &[], &["pre.*".to_owned()]).unwrap_err();
        assert!(matches!(error, SelectionError::SkipsPreflight { .. }));
    }
}
