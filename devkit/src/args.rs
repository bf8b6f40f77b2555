//! How the vendor types dates, flags and tax numbers, read the same way by every command of
//! `licenceedit` (clap value parsers: each returns a message that says what was expected).

use licence_protocol::time::UtcTime;

/// `2026-12-31` (00:00 UTC) or a full ISO 8601 date and time with an offset.
pub fn date_arg(s: &str) -> Result<UtcTime, String> {
    let bare_date = s.len() == 10 && s.bytes().enumerate().all(|(i, b)| matches!(i, 4 | 7) == (b == b'-'));
    let text = if bare_date { format!("{s}T00:00:00Z") } else { s.to_owned() };
    UtcTime::parse(&text)
        .map_err(|_| format!("`{s}` is not a date (2026-12-31) or an ISO 8601 date and time (2026-12-31T23:59:59Z)"))
}

/// A 64-bit number: decimal, `0x…` or `0b…` (flag 0 is the lowest bit); `key issue --flags`.
pub fn flags_arg(s: &str) -> Result<u64, String> {
    let parsed = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16)
    } else if let Some(bin) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        u64::from_str_radix(bin, 2)
    } else {
        s.parse()
    };
    parsed.map_err(|_| format!("`{s}` is not a 64-bit number (decimal, 0x… or 0b…)"))
}

/// A product's flags as a person lists them: flag numbers 0–63 separated by commas (`0,2,5`), or the
/// API's binary string (3 to 64 digits, flag 0 rightmost, `0b` optional). One or two digits are
/// always flag numbers, so `10` is flag 10, never binary 2; an empty text is no flags.
pub fn flag_list_arg(s: &str) -> Result<u64, String> {
    let text = s.trim();
    let binary = text.strip_prefix("0b").or_else(|| text.strip_prefix("0B"));
    let looks_binary = text.len() > 2 && text.bytes().all(|b| b == b'0' || b == b'1');
    if let Some(digits) = binary.or(looks_binary.then_some(text)) {
        return u64::from_str_radix(digits, 2)
            .map_err(|_| format!("`{s}` is not a binary string of up to 64 digits (flag 0 rightmost)"));
    }
    let mut flags = 0u64;
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let flag: u32 =
            part.parse().ok().filter(|n| *n < 64).ok_or_else(|| {
                format!("`{part}` is not a flag number 0–63 (give 0,2,5 or a binary string like 100101)")
            })?;
        flags |= 1 << flag;
    }
    Ok(flags)
}

/// An ITN (ИНН) or IEC (КПП): up to 12 digits.
pub fn tax_number_arg(s: &str) -> Result<String, String> {
    match licence_protocol::centre::normalize_tax_number(&serde_json::Value::String(s.to_owned())) {
        Ok(Some(digits)) => Ok(digits),
        Ok(None) => Err("is empty; give up to 12 digits".into()),
        Err(why) => Err(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_bare_days_or_iso_8601() {
        assert_eq!(date_arg("2026-12-31").unwrap().to_string(), "2026-12-31T00:00:00.000Z");
        assert_eq!(date_arg("2026-12-31T23:59:59+03:00").unwrap().to_string(), "2026-12-31T20:59:59.000Z");
        assert!(date_arg("2026-13-01").is_err());
        assert!(date_arg("31.12.2026").is_err());
        assert!(date_arg("2026/12/31").is_err());
        assert!(date_arg("").is_err());
    }

    #[test]
    fn flags_accept_decimal_hex_and_binary() {
        assert_eq!(flags_arg("5"), Ok(5));
        assert_eq!(flags_arg("0x1F"), Ok(31));
        assert_eq!(flags_arg("0b101"), Ok(5));
        assert_eq!(flags_arg("-1").unwrap_err(), "`-1` is not a 64-bit number (decimal, 0x… or 0b…)");
    }

    #[test]
    fn product_flags_are_numbers_or_a_binary_string() {
        assert_eq!(flag_list_arg("0,2,5"), Ok(0b100101));
        assert_eq!(flag_list_arg("10"), Ok(1 << 10));
        assert_eq!(flag_list_arg("1"), Ok(0b10));
        assert_eq!(flag_list_arg("100101"), Ok(0b100101));
        assert_eq!(flag_list_arg("0b11"), Ok(0b11));
        assert_eq!(flag_list_arg(""), Ok(0));
        assert_eq!(flag_list_arg(&"1".repeat(64)), Ok(u64::MAX));
        assert!(flag_list_arg("64").unwrap_err().contains("0–63"));
        assert!(flag_list_arg("2,x").unwrap_err().contains("`x`"));
        assert!(flag_list_arg(&"1".repeat(65)).is_err());
    }

    #[test]
    fn tax_numbers_are_digits() {
        assert_eq!(tax_number_arg("7701234567"), Ok("7701234567".into()));
        assert!(tax_number_arg("77-01").is_err());
        assert!(tax_number_arg("").is_err());
    }
}
