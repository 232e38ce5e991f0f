//! Numbers and dates as the reader's language writes them: Vietnamese groups
//! thousands with `.` and writes decimals with `,` (1.116.511 and 90,84%),
//! English the other way round (1,116,511 and 90.84%).

use crate::i18n::Lang;
use chrono::NaiveDate;

fn separators(lang: Lang) -> (char, char) {
    match lang {
        Lang::Vi => ('.', ','),
        Lang::En => (',', '.'),
    }
}

fn group(digits: &str, sep: char) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// A count, thousands grouped.
pub fn count(n: u64, lang: Lang) -> String {
    group(&n.to_string(), separators(lang).0)
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

/// A rate (a fraction) as a percentage with two decimals; `–` without one.
pub fn percent(rate: Option<f64>, lang: Lang) -> String {
    let Some(rate) = rate.filter(|r| r.is_finite()) else {
        return "–".to_owned();
    };
    let (thousands, decimal) = separators(lang);
    let hundredths = (rate * 10_000.0).round() as i64;
    let whole = group(&(hundredths.unsigned_abs() / 100).to_string(), thousands);
    let sign = if hundredths < 0 { "-" } else { "" };
    format!(
        "{sign}{whole}{decimal}{:02}%",
        hundredths.unsigned_abs() % 100
    )
}

/// A date: `14/11/2021` in Vietnamese, `2021-11-14` in English.
pub fn date(d: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::Vi => d.format("%d/%m/%Y").to_string(),
        Lang::En => d.format("%Y-%m-%d").to_string(),
    }
}

/// A month: `11/2021` or `2021-11`.
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
        assert_eq!(percent(Some(0.99627), Lang::En), "99.63%");
        assert_eq!(percent(Some(0.00004), Lang::En), "0.00%");
    }

    #[test]
    fn dates() {
        let d = NaiveDate::from_ymd_opt(2021, 11, 14).unwrap_or_default();
        assert_eq!(date(d, Lang::Vi), "14/11/2021");
        assert_eq!(date(d, Lang::En), "2021-11-14");
        assert_eq!(month(d, Lang::Vi), "11/2021");
    }
}
