//! Activation codes in the administrator's guide's shape: twenty digits in five groups of four,
//! `4345-9320-2035-7421-5369`, as `POST /api/licences` takes them in `ActivationCodeString`.
//!
//! The first nineteen digits are random (about 63 bits, so codes cannot be guessed); the last is a
//! check digit by the Damm algorithm, which catches every single mistyped digit and every swap of two
//! neighbouring digits. A mistyped code is therefore refused where it is typed, before any call to the
//! activation centre; only the centre knows whether a well-formed code was ever issued.
//!
//! Reading is lenient about what people type around the digits (spaces, dashes, any grouping) and
//! strict about the digits themselves: exactly twenty, the last one checking.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// How many digits a code has, the check digit included.
pub const DIGITS: usize = 20;

/// A well-formed activation code (its check digit verified).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActivationCode([u8; DIGITS]);

/// Why a text is not an activation code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("an activation code has only digits, spaces and dashes; found `{0}`")]
    Character(char),
    #[error("an activation code has 20 digits (five groups of four, like 4345-9320-2035-7421-5369); found {0}")]
    Length(usize),
    #[error("the activation code is mistyped: its last digit does not check; compare it with the one you received")]
    CheckDigit,
}

/// The Damm algorithm's table: a totally anti-symmetric quasigroup of order 10 (every row and column
/// a permutation, `T[T[c][a]][b] != T[T[c][b]][a]` for `a != b`).
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// The Damm interim digit of `digits`: 0 exactly when a string ending in its check digit is intact.
fn damm(digits: &[u8]) -> u8 {
    digits.iter().fold(0, |interim, &d| DAMM[usize::from(interim)][usize::from(d)])
}

impl ActivationCode {
    /// A fresh code from the operating system's random source.
    pub fn generate() -> Self {
        let mut digits = [0u8; DIGITS];
        let mut filled = 0;
        while filled < DIGITS - 1 {
            let mut bytes = [0u8; 32];
            getrandom::getrandom(&mut bytes).expect("the operating system's random source failed");
            // Bytes below 250 map evenly onto 0..=9; the rest are dropped.
            for b in bytes.into_iter().filter(|b| *b < 250) {
                if filled == DIGITS - 1 {
                    break;
                }
                digits[filled] = b % 10;
                filled += 1;
            }
        }
        Self::sealed(digits)
    }

    /// `digits` with its last place set to the check digit of the first nineteen.
    fn sealed(mut digits: [u8; DIGITS]) -> Self {
        digits[DIGITS - 1] = damm(&digits[..DIGITS - 1]);
        Self(digits)
    }

    /// The twenty digits, as numbers 0–9.
    pub fn digits(&self) -> &[u8; DIGITS] {
        &self.0
    }
}

impl FromStr for ActivationCode {
    type Err = CodeError;

    fn from_str(text: &str) -> Result<Self, CodeError> {
        let mut digits = [0u8; DIGITS];
        let mut count = 0;
        for c in text.trim().chars() {
            match c {
                '0'..='9' => {
                    if count < DIGITS {
                        digits[count] = c as u8 - b'0';
                    }
                    count += 1;
                }
                ' ' | '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{a0}' => {}
                other => return Err(CodeError::Character(other)),
            }
        }
        if count != DIGITS {
            return Err(CodeError::Length(count));
        }
        if damm(&digits) != 0 {
            return Err(CodeError::CheckDigit);
        }
        Ok(Self(digits))
    }
}

impl fmt::Display for ActivationCode {
    /// `4345-9320-2035-7421-5369`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, group) in self.0.chunks(4).enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            for d in group {
                write!(f, "{d}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for ActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActivationCode({self})")
    }
}

impl Serialize for ActivationCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ActivationCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The guide's example with its last digit replaced by the Damm check digit of the first nineteen.
    const EXAMPLE: &str = "4345-9320-2035-7421-5369";

    #[test]
    fn the_table_is_a_totally_anti_symmetric_quasigroup() {
        for row in DAMM {
            let mut seen = [false; 10];
            row.iter().for_each(|&d| seen[usize::from(d)] = true);
            assert!(seen.iter().all(|s| *s), "{row:?} is not a permutation");
        }
        for c in 0..10 {
            for a in 0..10u8 {
                for b in 0..10u8 {
                    if a != b {
                        let ab = DAMM[usize::from(DAMM[c][usize::from(a)])][usize::from(b)];
                        let ba = DAMM[usize::from(DAMM[c][usize::from(b)])][usize::from(a)];
                        assert_ne!(ab, ba, "c={c} a={a} b={b}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_example_reads_and_writes_back_in_the_guides_shape() {
        let code: ActivationCode = EXAMPLE.parse().unwrap();
        assert_eq!(code.to_string(), EXAMPLE);
        assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{EXAMPLE}\""));
        assert_eq!(serde_json::from_str::<ActivationCode>(&format!("\"{EXAMPLE}\"")).unwrap(), code);
        for typed in ["43459320203574215369", " 4345 9320 2035 7421 5369 ", "4345–9320–2035–7421–5369"] {
            assert_eq!(typed.parse::<ActivationCode>(), Ok(code), "{typed}");
        }
    }

    #[test]
    fn malformed_codes_say_what_is_wrong() {
        assert_eq!("4345-9320-2035-7421-536".parse::<ActivationCode>(), Err(CodeError::Length(19)));
        assert_eq!("4345-9320-2035-7421-53690".parse::<ActivationCode>(), Err(CodeError::Length(21)));
        assert_eq!("".parse::<ActivationCode>(), Err(CodeError::Length(0)));
        assert_eq!("4345-9320-2O35-7421-5369".parse::<ActivationCode>(), Err(CodeError::Character('O')));
        assert_eq!("4345-9320-2035-7421-5361".parse::<ActivationCode>(), Err(CodeError::CheckDigit));
        assert!(serde_json::from_str::<ActivationCode>("\"1234\"").unwrap_err().to_string().contains("20 digits"));
    }

    #[test]
    fn every_single_mistyped_digit_and_every_neighbour_swap_is_caught() {
        let code: ActivationCode = EXAMPLE.parse().unwrap();
        for place in 0..DIGITS {
            for wrong in 0..10u8 {
                if wrong == code.0[place] {
                    continue;
                }
                let mut digits = code.0;
                digits[place] = wrong;
                assert_ne!(damm(&digits), 0, "digit {place} typed as {wrong}");
            }
        }
        for place in 0..DIGITS - 1 {
            let mut digits = code.0;
            if digits[place] != digits[place + 1] {
                digits.swap(place, place + 1);
                assert_ne!(damm(&digits), 0, "digits {place} and {} swapped", place + 1);
            }
        }
    }

    #[test]
    fn generated_codes_check_and_differ() {
        let codes: Vec<ActivationCode> = (0..200).map(|_| ActivationCode::generate()).collect();
        for code in &codes {
            assert_eq!(code.to_string().parse::<ActivationCode>(), Ok(*code));
        }
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), codes.len());
    }

    proptest! {
        #[test]
        fn any_sealed_digits_round_trip(digits in proptest::array::uniform20(0u8..10)) {
            let code = ActivationCode::sealed(digits);
            prop_assert_eq!(code.to_string().parse::<ActivationCode>(), Ok(code));
        }

        #[test]
        fn any_text_is_a_code_or_a_reason(text in "\\PC{0,40}") {
            let _ = text.parse::<ActivationCode>();
        }
    }
}
