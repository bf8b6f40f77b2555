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

/// An error and its causes in one line (`outer: cause: root cause`), for logs; a cause whose text the
/// outer message already says is not repeated.
pub fn causes(error: &dyn std::error::Error) -> String {
    let mut said = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !said.contains(&text) {
            said = format!("{said}: {text}");
        }
        source = cause.source();
    }
    said
}

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

    #[derive(Debug)]
    struct Outer(std::io::Error, &'static str);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.1)
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn causes_are_said_once_each() {
        let cause = || std::io::Error::other("disk full");
        assert_eq!(causes(&Outer(cause(), "cannot write x")), "cannot write x: disk full");
        assert_eq!(causes(&Outer(cause(), "cannot write x: disk full")), "cannot write x: disk full");
    }
}
