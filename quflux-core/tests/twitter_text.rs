//! twitter-text conformance: `quflux_core::rules::twitter` against the official test data in
//! `tests/fixtures/twitter-text/` (copied from twitter/twitter-text, see SOURCE.txt there).

use std::collections::BTreeSet;
use std::path::PathBuf;

use quflux_core::rules::twitter::{self, CONFIG_V2, CONFIG_V3, TwitterTextConfig};
use serde_yaml::Value;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/twitter-text")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(name: &str) -> Value {
    serde_yaml::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn cases<'a>(doc: &'a Value, section: &str) -> &'a Vec<Value> {
    doc["tests"][section]
        .as_sequence()
        .unwrap_or_else(|| panic!("section {section} missing"))
}

/// Runs one `validate.yml` counter section; returns the number of cases.
fn run_counter_section(section: &str, config: &TwitterTextConfig) -> usize {
    let doc = yaml("validate.yml");
    let cases = cases(&doc, section);
    let mut failures = Vec::new();
    for case in cases {
        let description = case["description"].as_str().unwrap_or_default();
        let Some(text) = case["text"].as_str() else {
            panic!("{description}: no text")
        };
        let e = &case["expected"];
        let n = |key: &str| {
            e[key]
                .as_u64()
                .unwrap_or_else(|| panic!("{description}: {key}")) as usize
        };
        let got = twitter::parse_tweet(text, config);
        let expected = (
            n("weightedLength"),
            e["valid"]
                .as_bool()
                .unwrap_or_else(|| panic!("{description}: valid")),
            n("permillage"),
            (n("validRangeStart"), n("validRangeEnd")),
            (n("displayRangeStart"), n("displayRangeEnd")),
        );
        let actual = (
            got.weighted_length,
            got.valid,
            got.permillage,
            (got.valid_range_start, got.valid_range_end),
            (got.display_range_start, got.display_range_end),
        );
        if expected != actual {
            failures.push(format!(
                "{description}: expected {expected:?}, got {actual:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{section}: {} of {} cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}

#[test]
fn weighted_tweets_with_discounted_emoji_v3() {
    let n = run_counter_section("WeightedTweetsWithDiscountedEmojiCounterTest", &CONFIG_V3);
    assert_eq!(n, 22);
}

#[test]
fn weighted_length_is_the_v3_parse() {
    let text = "H🐱☺👨‍👩‍👧‍👦 https://example.com";
    assert_eq!(
        twitter::weighted_length(text),
        twitter::parse_tweet(text, &CONFIG_V3)
    );
}

#[test]
fn weighted_tweets_without_emoji_discount_v2() {
    let n = run_counter_section("WeightedTweetsCounterTest", &CONFIG_V2);
    assert!(n >= 20);
}

#[test]
fn unicode_directional_markers_v3() {
    run_counter_section("UnicodeDirectionalMarkerCounterTest", &CONFIG_V3);
}

#[test]
fn configs_match_the_official_json() {
    for (file, config) in [("v3.json", CONFIG_V3), ("v2.json", CONFIG_V2)] {
        let json: serde_json::Value = serde_json::from_str(&fixture(file)).unwrap();
        assert_eq!(json["version"], config.version, "{file}");
        assert_eq!(
            json["maxWeightedTweetLength"], config.max_weighted_tweet_length,
            "{file}"
        );
        assert_eq!(json["scale"], config.scale, "{file}");
        assert_eq!(json["defaultWeight"], config.default_weight, "{file}");
        assert_eq!(
            json["transformedURLLength"], config.transformed_url_length,
            "{file}"
        );
        assert_eq!(
            json["emojiParsingEnabled"].as_bool().unwrap_or(false),
            config.emoji_parsing_enabled,
            "{file}"
        );
        let ranges: Vec<(u64, u64, u64)> = json["ranges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["start"].as_u64().unwrap(),
                    r["end"].as_u64().unwrap(),
                    r["weight"].as_u64().unwrap(),
                )
            })
            .collect();
        let ours: Vec<(u64, u64, u64)> = config
            .ranges
            .iter()
            .map(|r| (u64::from(r.start), u64::from(r.end), u64::from(r.weight)))
            .collect();
        assert_eq!(ranges, ours, "{file}");
    }
}

fn extracted(text: &str) -> Vec<String> {
    twitter::extract_urls(text)
        .into_iter()
        .map(|r| text[r].to_owned())
        .collect()
}

#[test]
fn every_tld_of_tlds_yml_is_detected() {
    let doc = yaml("tlds.yml");
    let mut from_yaml = BTreeSet::new();
    let mut failures = Vec::new();
    for section in ["country", "generic"] {
        for case in cases(&doc, section) {
            let text = case["text"].as_str().unwrap();
            let expected: Vec<String> = case["expected"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
            from_yaml.insert(text.trim_start_matches("https://twitter.").to_owned());
            if extracted(text) != expected {
                failures.push(format!("{text}: got {:?}", extracted(text)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} TLD cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The compiled-in list (src/rules/twitter/tlds.txt) is exactly the one of tlds.yml.
    let compiled = include_str!("../src/rules/twitter/tlds.txt");
    let compiled: BTreeSet<String> = compiled
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    assert_eq!(compiled, from_yaml);
}

/// `extract.yml` URL sections (the extraction X's weighting relies on).
#[test]
fn extract_yml_urls() {
    let doc = yaml("extract.yml");
    let mut total = 0;
    let mut failures = Vec::new();
    let sections = [
        "urls",
        "urls_with_indices",
        "urls_with_directional_markers",
        "tco_urls_with_params",
    ];
    for section in sections {
        for case in cases(&doc, section) {
            let description = case["description"].as_str().unwrap();
            let text = case["text"].as_str().unwrap();
            let expected: Vec<String> = case["expected"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other["url"].as_str().unwrap().to_owned(),
                })
                .collect();
            total += 1;
            let got = extracted(text);
            if got != expected {
                failures.push(format!(
                    "{section} / {description}: expected {expected:?}, got {got:?}"
                ));
            }
            // `*_with_indices` cases also give [start, end) in UTF-16 code units.
            let expected_indices: Vec<(u64, u64)> = case["expected"]
                .as_sequence()
                .unwrap()
                .iter()
                .filter_map(|v| v["indices"].as_sequence())
                .map(|i| (i[0].as_u64().unwrap(), i[1].as_u64().unwrap()))
                .collect();
            if !expected_indices.is_empty() {
                let utf16 = |byte: usize| text[..byte].encode_utf16().count() as u64;
                let got: Vec<(u64, u64)> = twitter::extract_urls(text)
                    .into_iter()
                    .map(|r| (utf16(r.start), utf16(r.end)))
                    .collect();
                if got != expected_indices {
                    failures.push(format!(
                        "{section} / {description}: indices {expected_indices:?}, got {got:?}"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} URL extraction cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
