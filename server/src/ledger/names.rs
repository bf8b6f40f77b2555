//! The one comparison of the names a client gives (`ComputerName`, `TerminalClient`): two names are
//! one computer when they are equal char by char after each char is lowercased on its own
//! (`char::to_lowercase`), a char whose lowercase is more than one char staying as it is. So `PC1`
//! is `pc1` and `ВАСЯ` is `вася`, but no mapping joins different strings: `STRASSE` is not `straße`,
//! `FILE` is not `ﬁle` (a ligature stays itself), `İ` stays `İ`, and look-alikes of other scripts
//! (Cyrillic `А`, Latin `A`) stay distinct. Nothing is normalized: a composed and a decomposed `é`
//! are two names, as are `Σ` and `ς` — a difference that can only count more computers, never fewer.

/// The form of `name` that [the comparison](self) compares.
pub(super) fn name_key(name: &str) -> String {
    name.chars()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => l,
                _ => c,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::name_key;

    fn same(a: &str, b: &str) -> bool {
        name_key(a) == name_key(b)
    }

    #[test]
    fn case_is_ignored() {
        assert!(same("PC1", "pc1"));
        assert!(same("БУХГАЛТЕРИЯ-1", "бухгалтерия-1"));
        assert!(same("ẞ", "ß"), "the capital sharp s is the case pair of ß");
    }

    #[test]
    fn distinct_names_stay_distinct() {
        assert!(!same("STRASSE", "straße"));
        assert!(!same("FILE", "ﬁle"));
        assert!(!same("FI", "ﬁ"));
        assert!(!same("İSTANBUL", "istanbul"));
        assert!(!same("PC-A", "PC-А"), "Latin and Cyrillic A");
        assert!(!same("e\u{301}", "é"));
    }
}
