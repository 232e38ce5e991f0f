use super::*;
use crate::figures::{DocumentCounts, DossierCounts};

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_default()
}

fn ms(at: &str) -> i64 {
    DateTime::parse_from_rfc3339(at)
        .map(|t| t.timestamp_millis())
        .unwrap_or_default()
}

fn catalogue() -> Catalogue {
    Catalogue::embedded().unwrap_or_default()
}

fn documents(outgoing: u64, signed: u64) -> DocumentCounts {
    DocumentCounts {
        incoming: 1,
        outgoing,
        outgoing_signed: signed,
    }
}

fn dossiers(early: u64, late: u64) -> DossierCounts {
    DossierCounts {
        received: early + late,
        resolved_early: early,
        resolved_late: late,
        ..Default::default()
    }
}

fn request(level: Option<Level>) -> ScorecardRequest {
    ScorecardRequest {
        from: day("2021-01-01"),
        to: day("2021-12-31"),
        level,
    }
}

fn unit<'a>(card: &'a Scorecard, code: &str) -> &'a UnitScore {
    card.units
        .iter()
        .find(|u| u.code == code)
        .unwrap_or_else(|| panic!("no unit {code}"))
}

fn counts() -> CountsByUnit {
    let mut counts = CountsByUnit::new();
    let mut put = |level, code: &str, documents, dossiers| {
        counts.insert(
            (level, code.to_owned()),
            UnitCounts {
                documents,
                dossiers,
            },
        );
    };
    // Districts: 243 best on time, 244 and 246 tied, 247 documents only.
    put(Level::District, "243", documents(10, 10), dossiers(10, 0));
    put(Level::District, "244", documents(10, 5), dossiers(9, 1));
    put(Level::District, "246", documents(10, 5), dossiers(18, 2));
    put(
        Level::District,
        "247",
        documents(10, 9),
        DossierCounts::default(),
    );
    // A commune at exactly the thresholds: no flag.
    put(Level::Commune, "08707", documents(10, 9), dossiers(19, 1));
    counts
}

/// The scorecard of 2021 at `level` over [`counts`], with `last` events and
/// `section`'s thresholds.
fn year_card_with(
    level: Option<Level>,
    last: &BTreeMap<(String, System), i64>,
    section: &ScorecardSection,
) -> Scorecard {
    build(&request(level), &catalogue(), &counts(), last, section)
}

/// [`year_card_with`] with no last events and the default thresholds.
fn year_card(level: Option<Level>) -> Scorecard {
    year_card_with(level, &BTreeMap::new(), &ScorecardSection::default())
}

#[test]
fn every_catalogue_unit_appears_with_null_rates_when_there_is_nothing_to_rate() {
    let card = year_card(None);
    assert_eq!(card.units.len(), catalogue().len());
    let quiet = unit(&card, "08710");
    assert_eq!(quiet.documents.signed_rate, None);
    assert_eq!(quiet.dossiers.on_time_rate, None);
    assert_eq!(quiet.dossiers.online_share, None);
    assert_eq!(quiet.rank, None);
    assert!(quiet.flags.is_empty());
    assert!(!quiet.silent, "never sent anything: not silent");
    let json = serde_json::to_value(quiet).unwrap_or_default();
    assert_eq!(json["documents"]["signed_rate"], serde_json::Value::Null);
    assert_eq!(json["last_event_at"]["documents"], serde_json::Value::Null);
    assert_eq!(json["district_code"], "243");
    assert_eq!(json["level"], "commune");
}

#[test]
fn ranks_by_on_time_rate_then_signing_rate_with_ties_sharing_a_rank() {
    let card = year_card(Some(Level::District));
    assert!(card.units.iter().all(|u| u.level == Level::District));
    assert_eq!(card.units.len(), 9);
    let ranks: Vec<(&str, Option<u32>)> = card
        .units
        .iter()
        .map(|u| (u.code.as_str(), u.rank))
        .collect();
    assert_eq!(
        ranks[..4],
        [
            ("243", Some(1)),
            ("244", Some(2)),
            ("246", Some(2)),
            ("247", Some(4))
        ]
    );
    assert!(ranks[4..].iter().all(|(_, r)| r.is_none()), "{ranks:?}");
}

#[test]
fn flags_are_rates_strictly_under_their_thresholds() {
    let card = year_card(None);
    assert!(unit(&card, "243").flags.is_empty());
    assert_eq!(
        unit(&card, "244").flags,
        [Flag::LowSignedRate, Flag::LowOnTimeRate]
    );
    assert!(
        unit(&card, "08707").flags.is_empty(),
        "0.90 and 0.95 are not under"
    );
    let json = serde_json::to_value(&unit(&card, "244").flags).unwrap_or_default();
    assert_eq!(
        json,
        serde_json::json!(["low_signed_rate", "low_on_time_rate"])
    );
}

#[test]
fn a_unit_is_silent_when_its_last_event_is_silent_after_days_before_the_end() {
    let last: BTreeMap<(String, System), i64> = [
        // 243: documents until 24 December local (7 days before the 31st): silent.
        ("243", System::Documents, "2021-12-24T23:59:00+07:00"),
        // 244: 25 December local (24 December in UTC): not silent.
        ("244", System::Documents, "2021-12-24T17:30:00Z"),
        // 246: documents stopped in November, one-stop still sends: not silent.
        ("246", System::Documents, "2021-11-01T08:00:00+07:00"),
        ("246", System::Onestop, "2021-12-30T08:00:00+07:00"),
    ]
    .into_iter()
    .map(|(code, system, at)| ((code.to_owned(), system), ms(at)))
    .collect();
    let card = year_card_with(None, &last, &ScorecardSection::default());
    assert!(unit(&card, "243").silent);
    assert!(!unit(&card, "244").silent);
    let u246 = unit(&card, "246");
    assert!(!u246.silent);
    let json = serde_json::to_value(&u246.last_event_at).unwrap_or_default();
    assert_eq!(
        json,
        serde_json::json!({"documents": "2021-11-01T08:00:00.000+07:00", "onestop": "2021-12-30T08:00:00.000+07:00"})
    );
    let json = serde_json::to_value(&unit(&card, "244").last_event_at).unwrap_or_default();
    assert_eq!(json["documents"], "2021-12-25T00:30:00.000+07:00");
    let longer = ScorecardSection {
        silent_after_days: 8,
        ..ScorecardSection::default()
    };
    let card = year_card_with(None, &last, &longer);
    assert!(!unit(&card, "243").silent);
}

#[test]
fn json_round_trips_and_csv_and_tables_have_every_unit() -> anyhow::Result<()> {
    let card = year_card(None);
    let text = serde_json::to_string(&card)?;
    let back: Scorecard = serde_json::from_str(&text)?;
    assert_eq!(back, card);
    let csv = String::from_utf8(table::csv(&card, table::Lang::En)?)?;
    assert_eq!(csv.lines().count(), card.units.len() + 1);
    assert!(csv.starts_with("code,name,level,district_code,documents.incoming,"));
    let vi = String::from_utf8(table::csv(&card, table::Lang::Vi)?)?;
    assert!(vi.starts_with("Mã đơn vị,Tên đơn vị,"));
    let tables = table::table(&card, table::Lang::Vi);
    assert!(tables.contains("Cấp huyện"), "{tables}");
    assert!(tables.contains("Thành phố Phúc Yên"), "{tables}");
    assert!(!xlsx::workbook(&card, table::Lang::En)?.is_empty());
    Ok(())
}
