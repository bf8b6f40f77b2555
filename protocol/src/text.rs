//! Untrusted text cut short for messages and logs. Names, paths and values that clients, files and
//! users send end up in error texts, log lines and the console; each is shown at most a bounded
//! number of characters (never split inside a character), with `…` saying that something was cut.
//! Every part of the system shortens with this one function.

/// How many characters of a name (a computer, a user, an object) are shown.
pub const NAME: usize = 100;
/// How many characters of a line (of a config file, a path, a header) are shown.
pub const LINE: usize = 200;
/// How many characters of a longer text (a remote answer, a document) are shown.
pub const TEXT: usize = 500;

/// `text` if it has at most `limit` characters, else its first `limit` characters and `…`.
pub fn shorten(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_and_long_text_is_cut_at_a_character() {
        assert_eq!(shorten("склад", 5), "склад");
        assert_eq!(shorten("склад", 3), "скл…");
        assert_eq!(shorten("", 0), "");
        assert_eq!(shorten("ab", 0), "…");
        let long = "я".repeat(1000);
        assert_eq!(shorten(&long, TEXT).chars().count(), TEXT + 1);
    }
}
