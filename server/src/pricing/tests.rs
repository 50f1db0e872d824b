use super::*;

const SONNET: ModelPrice = ModelPrice {
    input: 3_000_000,
    output: 15_000_000,
    cache_write_5m: 3_750_000,
    cache_write_1h: 6_000_000,
    cache_read: 300_000,
};

fn usage(input: u64, output: u64, w5: u64, w1: u64, read: u64) -> TokenUsage {
    TokenUsage {
        input,
        output,
        cache_write_5m: w5,
        cache_write_1h: w1,
        cache_read: read,
    }
}

#[test]
fn builtin_table_prices_every_shipped_model() {
    let pricing = Pricing::builtin();
    let models = pricing.models();
    assert!(models.len() >= 30, "only {} models", models.len());
    for (model, price) in &models {
        assert!(
            price.input > 0 && price.output > 0,
            "{model} has a zero price"
        );
        assert!(price.cache_read > 0 && price.cache_write_5m > 0 && price.cache_write_1h > 0);
        assert!(
            price.cache_read <= price.input,
            "{model}: cache read dearer than input"
        );
        assert_eq!(pricing.lookup(model).source, PriceSource::Table);
    }
    for model in [
        "claude-opus-4-8",
        "claude-opus-4-7",
        "claude-opus-4-6",
        "claude-opus-4-5",
        "claude-opus-4-1",
        "claude-opus-4",
        "claude-sonnet-4-6",
        "claude-sonnet-4-5",
        "claude-sonnet-4",
        "claude-3-7-sonnet",
        "claude-haiku-4-5",
        "claude-3-5-haiku",
        "gpt-5.1",
        "gpt-5",
        "gpt-5-mini",
        "gpt-5-nano",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4o",
        "gpt-4o-mini",
        "o3",
        "o4-mini",
        "gpt-5-codex",
        "gpt-5.1-codex",
        "gemini-3-pro-preview",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "gemini-2.5-flash-lite",
        "gemini-2.0-flash",
    ] {
        assert!(models.iter().any(|(m, _)| m == model), "{model} missing");
    }
}

#[test]
fn builtin_claude_prices_follow_the_published_multipliers() {
    let pricing = Pricing::builtin();
    let expect = |model: &str, input: i64, output: i64| {
        let p = pricing.lookup(model).price;
        assert_eq!(
            p,
            ModelPrice {
                input,
                output,
                cache_write_5m: input * 5 / 4,
                cache_write_1h: input * 2,
                cache_read: input / 10,
            },
            "{model}"
        );
    };
    expect("claude-opus-4-8", 5_000_000, 25_000_000);
    expect("claude-opus-4-5", 5_000_000, 25_000_000);
    expect("claude-opus-4-1", 15_000_000, 75_000_000);
    expect("claude-sonnet-4-6", 3_000_000, 15_000_000);
    expect("claude-haiku-4-5", 1_000_000, 5_000_000);
    expect("claude-3-5-haiku", 800_000, 4_000_000);
    let gpt = pricing.lookup("gpt-4o").price;
    assert_eq!(
        (gpt.input, gpt.output, gpt.cache_read),
        (2_500_000, 10_000_000, 1_250_000)
    );
    assert_eq!(
        gpt.cache_write_5m, gpt.input,
        "no published cache write: billed as input"
    );
}

#[test]
fn cost_of_each_token_kind() {
    assert_eq!(
        cost_micros(&SONNET, &usage(1_000_000, 0, 0, 0, 0)),
        3_000_000
    );
    assert_eq!(
        cost_micros(&SONNET, &usage(0, 1_000_000, 0, 0, 0)),
        15_000_000
    );
    assert_eq!(
        cost_micros(&SONNET, &usage(0, 0, 1_000_000, 0, 0)),
        3_750_000
    );
    assert_eq!(
        cost_micros(&SONNET, &usage(0, 0, 0, 1_000_000, 0)),
        6_000_000
    );
    assert_eq!(cost_micros(&SONNET, &usage(0, 0, 0, 0, 1_000_000)), 300_000);
    assert_eq!(
        cost_micros(
            &SONNET,
            &usage(1_000_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000)
        ),
        28_050_000
    );
    let opus = Pricing::builtin().lookup("claude-opus-4-6").price;
    assert_eq!(cost_micros(&opus, &usage(0, 1, 0, 0, 0)), 25);
    assert_eq!(cost_micros(&opus, &TokenUsage::default()), 0);
}

#[test]
fn cost_rounds_half_up_once_over_the_sum() {
    // 1 Sonnet input token = 3 micros exactly; 1 cache-read token = 0.3 micros.
    assert_eq!(cost_micros(&SONNET, &usage(0, 0, 0, 0, 1)), 0);
    assert_eq!(
        cost_micros(&SONNET, &usage(0, 0, 0, 0, 2)),
        1,
        "0.6 rounds up"
    );
    assert_eq!(
        cost_micros(&SONNET, &usage(0, 0, 0, 0, 5)),
        2,
        "1.5 rounds half up"
    );
    // Rounding each kind separately would give 0 + 0 = 0; the sum 0.3 + 0.3 rounds once.
    let half = ModelPrice {
        input: 500_000,
        output: 0,
        cache_write_5m: 0,
        cache_write_1h: 0,
        cache_read: 0,
    };
    assert_eq!(
        cost_micros(&half, &usage(1, 0, 0, 0, 0)),
        1,
        "0.5 rounds half up"
    );
    assert_eq!(
        cost_micros(&SONNET, &usage(0, 0, 1, 0, 1)),
        4,
        "3.75 + 0.3 = 4.05"
    );
}

#[test]
fn cost_saturates_instead_of_overflowing() {
    let max = ModelPrice {
        input: i64::MAX,
        output: i64::MAX,
        cache_write_5m: i64::MAX,
        cache_write_1h: i64::MAX,
        cache_read: i64::MAX,
    };
    let all = usage(u64::MAX, u64::MAX, u64::MAX, u64::MAX, u64::MAX);
    assert_eq!(cost_micros(&max, &all), i64::MAX);
    assert_eq!(worst_case_micros(&max, u64::MAX, u64::MAX), i64::MAX);
}

#[test]
fn worst_case_uses_the_dearest_input_rate_and_rounds_up() {
    // 1000 tokens at the 1h write rate ($6) + 100 output tokens at $15.
    assert_eq!(worst_case_micros(&SONNET, 1000, 100), 6_000 + 1_500);
    let cheap = ModelPrice {
        input: 100_000,
        output: 100_000,
        cache_write_5m: 100_000,
        cache_write_1h: 100_000,
        cache_read: 10_000,
    };
    assert_eq!(worst_case_micros(&cheap, 1, 0), 1, "0.1 micros reserves 1");
    assert_eq!(worst_case_micros(&cheap, 0, 0), 0);
}

#[test]
fn lookup_normalises_names() {
    let pricing = Pricing::builtin();
    let sonnet = pricing.lookup("claude-sonnet-4-5").price;
    for name in [
        "claude-sonnet-4-5-20250929",
        "anthropic/claude-sonnet-4-5",
        "claude-sonnet-4-5[1m]",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "claude-sonnet-4-5@20250929",
    ] {
        let found = pricing.lookup(name);
        assert_eq!(
            (found.price, found.source),
            (sonnet, PriceSource::Table),
            "{name}"
        );
    }
    assert_eq!(
        pricing.lookup("gpt-4o-2024-08-06").price,
        pricing.lookup("gpt-4o").price
    );
    assert_eq!(
        pricing.lookup("claude-3-5-haiku-latest").price.input,
        800_000
    );
    assert_eq!(
        pricing.lookup("models/gemini-2.5-pro").price.input,
        1_250_000
    );
    assert_eq!(
        pricing.lookup("claude-opus-4-6").max_output_tokens,
        Some(128_000)
    );
}

#[test]
fn unknown_models_are_priced_at_the_fallback_and_flagged() {
    let found = Pricing::builtin().lookup("mystery-model-9");
    assert_eq!(found.source, PriceSource::Fallback);
    assert_eq!(found.price, FALLBACK_PRICE);
    let dearest_output = Pricing::builtin()
        .models()
        .iter()
        .map(|(_, p)| p.output)
        .max()
        .unwrap();
    assert!(
        FALLBACK_PRICE.output >= dearest_output,
        "the fallback must never undercharge"
    );
}

#[test]
fn overrides_win_and_apply_to_spellings_of_the_model() {
    let cheap = ModelPrice {
        input: 1,
        output: 2,
        cache_write_5m: 3,
        cache_write_1h: 4,
        cache_read: 5,
    };
    let pricing = Pricing::builtin().with_overrides(&[
        ("claude-sonnet-4-5".to_string(), cheap),
        ("house-model".to_string(), cheap),
    ]);
    for name in [
        "claude-sonnet-4-5",
        "claude-sonnet-4-5-20250929",
        "house-model",
    ] {
        let found = pricing.lookup(name);
        assert_eq!(
            (found.price, found.source),
            (cheap, PriceSource::Override),
            "{name}"
        );
    }
    assert_eq!(
        pricing.lookup("claude-sonnet-4-5").max_output_tokens,
        Some(64_000)
    );
    assert_eq!(pricing.lookup("claude-sonnet-4").source, PriceSource::Table);
    let catalog = pricing.catalog();
    let row = catalog
        .iter()
        .find(|r| r.model == "claude-sonnet-4-5")
        .unwrap();
    assert_eq!((row.price, row.source), (cheap, PriceSource::Override));
    assert!(catalog.iter().any(|r| r.model == "house-model"));
    let names: Vec<_> = catalog.iter().map(|r| r.model.clone()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    // Replacing the overrides drops the old ones.
    let reset = pricing.with_overrides(&[]);
    assert_eq!(reset.lookup("claude-sonnet-4-5").source, PriceSource::Table);
    assert_eq!(reset.lookup("house-model").source, PriceSource::Fallback);
}

#[test]
fn an_exactly_named_override_beats_one_that_only_normalises_alike() {
    let price = |input| ModelPrice {
        input,
        output: 0,
        cache_write_5m: 0,
        cache_write_1h: 0,
        cache_read: 0,
    };
    for order in [[0, 1], [1, 0]] {
        let both = [
            ("claude-opus-4-1".to_string(), price(10)),
            ("claude-opus-4-1-20250805".to_string(), price(20)),
        ];
        let overrides: Vec<_> = order.iter().map(|&i| both[i].clone()).collect();
        let pricing = Pricing::builtin().with_overrides(&overrides);
        assert_eq!(pricing.lookup("claude-opus-4-1-20990101").price.input, 10);
        assert_eq!(pricing.lookup("claude-opus-4-1-20250805").price.input, 20);
    }
}

#[test]
fn operator_tables_keyed_by_snapshot_are_found_by_family_name() {
    let pricing = Pricing::from_json(
        r#"{
            "sample_spec": {"input_cost_per_token": "float", "output_cost_per_token": "float"},
            "claude-3-5-haiku-20241022": {"input_cost_per_token": 8e-07, "output_cost_per_token": 4e-06,
                "litellm_provider": "anthropic", "max_output_tokens": 8192},
            "bedrock/anthropic.claude-3-5-haiku-20241022-v1:0": {"input_cost_per_token": 1e-06,
                "output_cost_per_token": 5e-06},
            "dall-e-3": {"input_cost_per_pixel": 1e-08, "output_cost_per_pixel": 0.0, "mode": "image_generation"},
            "chatgpt/gpt-5.4": {"input_cost_per_token": null, "output_cost_per_token": null}
        }"#,
    )
    .unwrap();
    assert_eq!(
        pricing.models().len(),
        2,
        "sample_spec, per-pixel and null entries skipped"
    );
    let exact = pricing.lookup("claude-3-5-haiku-20241022");
    assert_eq!(
        (exact.price.input, exact.max_output_tokens),
        (800_000, Some(8192))
    );
    assert_eq!(
        exact.price.cache_read, 800_000,
        "no published cache read: billed as input"
    );
    // Both snapshots normalise to `claude-3-5-haiku`; the dearer one answers.
    assert_eq!(pricing.lookup("claude-3-5-haiku").price.input, 1_000_000);
}

#[test]
fn per_token_prices_convert_exactly() {
    for (usd, micros) in [
        (3e-06, 3_000_000),
        (2.9999999e-06, 3_000_000),
        (3.0000000000000004e-06, 3_000_000),
        (1.875e-05, 18_750_000),
        (8e-08, 80_000),
        (5e-09, 5_000),
        (0.0, 0),
    ] {
        assert_eq!(
            usd_per_token_to_micros_per_mtok(usd).unwrap(),
            micros,
            "{usd}"
        );
    }
    assert!(usd_per_token_to_micros_per_mtok(-1e-6).is_err());
    assert!(usd_per_token_to_micros_per_mtok(f64::NAN).is_err());
    assert!(
        usd_per_token_to_micros_per_mtok(3.0).is_err(),
        "a per-MTok price in the per-token field"
    );
}

#[test]
fn malformed_tables_are_refused_naming_the_problem() {
    let err = |text: &str| format!("{:#}", Pricing::from_json(text).unwrap_err());
    assert!(err("{not json").contains("not valid JSON"));
    assert!(err("[]").contains("JSON object keyed by model name"));
    assert!(err(r#"{"m": 3}"#).contains(r#"model "m": the entry must be a JSON object"#));
    let bad_type =
        err(r#"{"m": {"input_cost_per_token": "3e-06", "output_cost_per_token": 1e-05}}"#);
    assert!(
        bad_type.contains(r#"model "m": field input_cost_per_token must be a number"#),
        "{bad_type}"
    );
    let negative = err(
        r#"{"m": {"input_cost_per_token": 1e-06, "output_cost_per_token": 1e-05,
        "cache_read_input_token_cost": -1e-07}}"#,
    );
    assert!(
        negative.contains(r#"model "m": field cache_read_input_token_cost"#),
        "{negative}"
    );
    assert!(negative.contains("non-negative"), "{negative}");
    assert!(err(r#"{"dall-e-3": {"input_cost_per_pixel": 1e-08}}"#).contains("no model with"));
}

#[test]
fn from_file_reads_the_operators_table_and_names_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prices.json");
    std::fs::write(
        &path,
        r#"{"house-model": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}}"#,
    )
    .unwrap();
    let pricing = Pricing::from_file(&path).unwrap();
    assert_eq!(pricing.lookup("house-model").price.output, 2_000_000);
    assert_eq!(
        pricing.lookup("claude-sonnet-4-5").source,
        PriceSource::Fallback,
        "replaces the built-in table"
    );
    let missing = format!(
        "{:#}",
        Pricing::from_file(&dir.path().join("nope.json")).unwrap_err()
    );
    assert!(missing.contains("nope.json"), "{missing}");
}

#[test]
fn prices_serialise_in_camel_case() {
    let json = serde_json::to_value(SONNET).unwrap();
    assert_eq!(json["cacheWrite5m"], 3_750_000);
    assert_eq!(json["cacheWrite1h"], 6_000_000);
    assert_eq!(json["cacheRead"], 300_000);
    assert_eq!(
        serde_json::to_value(PriceSource::Fallback).unwrap(),
        "fallback"
    );
}
