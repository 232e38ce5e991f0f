//! Numbers as operators and the provincial report print them.

/// A count with thousands separated by commas: `1,234,567`.
pub fn thousands(n: i128) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
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
}
