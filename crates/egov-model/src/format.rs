//! Numbers and dates as the reader's language writes them, in one place for
//! `egov status`, `egov scorecard`, `egov report` and the dashboard:
//! Vietnamese groups thousands with `.` and writes decimals with `,`
//! (1.116.511 and 90,84%), English the other way round (1,116,511 and 90.84%).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The reader's language; Vietnamese unless asked otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Vi, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// `vi` or `en`; anything else is Vietnamese, the default.
    pub fn parse(text: Option<&str>) -> Self {
        match text {
            Some("en") => Lang::En,
            _ => Lang::Vi,
        }
    }

    /// The name of the language in itself, for a language switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Vi => "Tiếng Việt",
            Lang::En => "English",
        }
    }

    /// The thousands separator and the decimal mark.
    fn separators(self) -> (char, char) {
        match self {
            Lang::Vi => ('.', ','),
            Lang::En => (',', '.'),
        }
    }
}

fn group(digits: &str, separator: char) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

/// A count, thousands grouped: `1.116.511` (vi), `1,116,511` (en).
pub fn count(n: u64, lang: Lang) -> String {
    group(&n.to_string(), lang.separators().0)
}

/// A signed count (lags, differences).
pub fn signed(n: i64, lang: Lang) -> String {
    let grouped = count(n.unsigned_abs(), lang);
    if n < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// A count with thousands separated by commas, as operators' English
/// screens print it: `1,234,567`.
pub fn thousands(n: i128) -> String {
    let grouped = group(&n.unsigned_abs().to_string(), Lang::En.separators().0);
    if n < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// A rate (a fraction) as a percentage with two decimals: `90,84%` (vi),
/// `90.84%` (en); `–` when there is nothing to rate.
pub fn percent(rate: Option<f64>, lang: Lang) -> String {
    let Some(rate) = rate.filter(|r| r.is_finite()) else {
        return "–".to_owned();
    };
    let (thousands, decimal) = lang.separators();
    let hundredths = (rate * 10_000.0).round() as i64;
    let whole = group(&(hundredths.unsigned_abs() / 100).to_string(), thousands);
    let sign = if hundredths < 0 { "-" } else { "" };
    format!(
        "{sign}{whole}{decimal}{:02}%",
        hundredths.unsigned_abs() % 100
    )
}

/// A date: `14/11/2021` (vi), `2021-11-14` (en).
pub fn date(d: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::Vi => d.format("%d/%m/%Y").to_string(),
        Lang::En => d.format("%Y-%m-%d").to_string(),
    }
}

/// A month: `11/2021` (vi), `2021-11` (en).
pub fn month(d: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::Vi => d.format("%m/%Y").to_string(),
        Lang::En => d.format("%Y-%m").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(157_054), "157,054");
        assert_eq!(thousands(-1_234_567), "-1,234,567");
        assert_eq!(
            thousands(i128::from(u64::MAX)),
            "18,446,744,073,709,551,615"
        );
    }

    #[test]
    fn vietnamese_numbers() {
        assert_eq!(count(1_116_511, Lang::Vi), "1.116.511");
        assert_eq!(count(0, Lang::Vi), "0");
        assert_eq!(count(999, Lang::Vi), "999");
        assert_eq!(count(1_000, Lang::Vi), "1.000");
        assert_eq!(percent(Some(146_777.0 / 161_578.0), Lang::Vi), "90,84%");
        assert_eq!(percent(Some(1.0), Lang::Vi), "100,00%");
        assert_eq!(percent(Some(0.0), Lang::Vi), "0,00%");
        assert_eq!(percent(None, Lang::Vi), "–");
        assert_eq!(signed(-1_234, Lang::Vi), "-1.234");
    }

    #[test]
    fn english_numbers() {
        assert_eq!(count(1_116_511, Lang::En), "1,116,511");
        assert_eq!(percent(Some(146_777.0 / 161_578.0), Lang::En), "90.84%");
        assert_eq!(percent(Some(0.99627), Lang::En), "99.63%");
        assert_eq!(percent(Some(0.00004), Lang::En), "0.00%");
        assert_eq!(percent(Some(f64::NAN), Lang::En), "–");
    }

    #[test]
    fn dates() {
        let d = NaiveDate::from_ymd_opt(2021, 11, 14).unwrap_or_default();
        assert_eq!(date(d, Lang::Vi), "14/11/2021");
        assert_eq!(date(d, Lang::En), "2021-11-14");
        assert_eq!(month(d, Lang::Vi), "11/2021");
        assert_eq!(month(d, Lang::En), "2021-11");
    }

    #[test]
    fn languages_read_back_from_their_codes() {
        for lang in Lang::ALL {
            assert_eq!(Lang::parse(Some(lang.code())), lang);
        }
        assert_eq!(Lang::parse(Some("fr")), Lang::Vi);
        assert_eq!(Lang::parse(None), Lang::default());
    }
}
