//! Reading tables: the shipped one, operators' files, what is skipped and what is refused.

use serde_json::json;

use super::*;

#[test]
fn builtin_table_is_litellms_for_the_served_providers() {
    let pricing = Pricing::builtin();
    let catalog = pricing.catalog();
    assert!(
        pricing.table_origin().2 > 500,
        "only {} table entries",
        pricing.table_origin().2
    );
    assert!(catalog.len() > 150, "only {} models listed", catalog.len());
    for m in &catalog {
        let p = m.price;
        assert!(
            p.input >= 0 && p.output >= 0 && p.cache_read >= 0,
            "{}",
            m.model
        );
        assert!(
            matches!(
                m.provider.as_deref(),
                Some(
                    "anthropic"
                        | "openai"
                        | "text-completion-openai"
                        | "azure"
                        | "gemini"
                        | "vertex_ai-language-models"
                )
            ),
            "{} from {:?}",
            m.model,
            m.provider
        );
        assert_eq!(pricing.lookup(&m.model).source, PriceSource::Table);
    }
    for model in [
        "claude-opus-4-8",
        "claude-opus-5-5",
        "claude-sonnet-4-5",
        "claude-sonnet-5-5",
        "claude-haiku-4-5",
        "gpt-5.4",
        "gpt-5.4-mini",
        "gpt-5-nano",
        "gpt-4.1",
        "gpt-4o",
        "o3",
        "o4-mini",
        "gpt-5.1-codex",
        "gemini-2.5-pro",
        "gemini-3.8-flash",
        "gemini-3.5-flash-lite",
        "gemini-3.1-pro-preview",
        "claude-opus-latest",
    ] {
        assert!(catalog.iter().any(|m| m.model == model), "{model} missing");
    }
    // Listed by the names clients send: no router namespaces, nothing the relay does not serve.
    for m in &catalog {
        assert!(!m.model.contains('/'), "{}", m.model);
    }
    for absent in [
        "gemini-embedding-001",
        "gemini-3.8-flash-tts",
        "gpt-realtime",
    ] {
        assert!(
            !catalog.iter().any(|m| m.model == absent),
            "{absent} listed"
        );
    }
    assert_eq!(pricing.table_origin().0, TableOrigin::Builtin);
}

#[test]
fn the_shipped_table_is_what_the_filter_keeps() {
    // `update_model_prices.py` and `filter::served` apply the same rule: filtering the
    // shipped file again removes nothing.
    let serde_json::Value::Object(all) = serde_json::from_str(BUILTIN_TABLE).unwrap() else {
        panic!("the shipped table is an object");
    };
    let n = all.len();
    assert_eq!(filter::served(all).len(), n);
    let foreign = json!({
        "bedrock/anthropic.claude-opus-4-1": {"litellm_provider": "bedrock", "input_cost_per_token": 1e-5, "output_cost_per_token": 1e-5},
        "gemini-9-flash": {"litellm_provider": "vertex_ai-language-models", "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6},
        "gemini-2.5-pro": {"litellm_provider": "vertex_ai-language-models", "input_cost_per_token": 9e-6, "output_cost_per_token": 9e-6},
        "gemini/gemini-2.5-pro": {"litellm_provider": "gemini", "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6},
        "vertex_ai/gemini-9-pro": {"litellm_provider": "vertex_ai-language-models", "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6},
        "claude-opus-latest": {"alias_of": "claude-opus-9"},
        "bedrock/claude-opus-latest": {"alias_of": "bedrock/anthropic.claude-opus-4-1"},
        "claude-opus-9": {"litellm_provider": "anthropic", "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6},
        "house-model": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6},
        "fallback_generalizations": {"rules": []}
    });
    let serde_json::Value::Object(foreign) = foreign else {
        unreachable!()
    };
    let kept: Vec<String> = filter::served(foreign).keys().cloned().collect();
    let mut kept = kept;
    kept.sort();
    assert_eq!(
        kept,
        [
            "claude-opus-9",
            "claude-opus-latest",
            "gemini-9-flash",
            "gemini/gemini-2.5-pro",
            "house-model"
        ]
    );
}

#[test]
fn builtin_claude_prices_follow_the_published_multipliers() {
    let pricing = Pricing::builtin();
    let expect = |model: &str, input: i64, output: i64| {
        let p = pricing.lookup(model).price;
        assert_eq!(
            p.base(),
            ModelPrice::flat(input, output, input * 5 / 4, input * 2, input / 10).base(),
            "{model}"
        );
    };
    expect("claude-opus-4-8", 5_000_000, 25_000_000);
    expect("claude-opus-4-5", 5_000_000, 25_000_000);
    expect("claude-sonnet-4-6", 3_000_000, 15_000_000);
    expect("claude-haiku-4-5", 1_000_000, 5_000_000);
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
fn long_context_tiers_are_read_with_missing_rates_keeping_their_ratio() {
    let pricing = Pricing::builtin();
    let pro = pricing.lookup("gemini/gemini-2.5-pro").price;
    let tier = pro.long_context.expect("gemini-2.5-pro has a 200k tier");
    assert_eq!(tier.above_prompt_tokens, 200_000);
    assert_eq!(
        (tier.rates.input, tier.rates.output, tier.rates.cache_read),
        (2_500_000, 15_000_000, 250_000)
    );
    // No cache-write tier published: the standard write (= input) scaled like input.
    assert_eq!(tier.rates.cache_write_5m, 2_500_000);
    let haiku = pricing
        .lookup("claude-haiku-5-5")
        .price
        .long_context
        .unwrap();
    assert_eq!(haiku.above_prompt_tokens, 100_000);
    assert_eq!(
        haiku.rates,
        TokenRates {
            input: 500_000,
            output: 2_500_000,
            cache_write_5m: 625_000,
            cache_write_1h: 1_000_000,
            cache_read: 50_000
        }
    );
    assert_eq!(
        pricing
            .lookup("gpt-5.4")
            .price
            .long_context
            .unwrap()
            .above_prompt_tokens,
        272_000
    );
    assert_eq!(pricing.lookup("claude-sonnet-4-5").price.long_context, None);

    let scaled = Pricing::from_json(&table_json(&[(
        "m",
        json!({"input_cost_per_token": 2e-6, "output_cost_per_token": 1e-5,
               "cache_creation_input_token_cost": 2.5e-6, "cache_read_input_token_cost": 2e-7,
               "input_cost_per_token_above_128k_tokens": 4e-6,
               "input_cost_per_token_above_200k_tokens": 5e-6}),
    )]))
    .unwrap();
    let tier = scaled.lookup("m").price.long_context.unwrap();
    assert_eq!(tier.above_prompt_tokens, 128_000, "the lowest threshold");
    assert_eq!(
        tier.rates,
        TokenRates {
            input: 4_000_000,
            output: 10_000_000,
            cache_write_5m: 5_000_000,
            cache_write_1h: 5_000_000,
            cache_read: 400_000
        }
    );
}

#[test]
fn tool_fees_come_from_the_row_else_the_providers_dearest() {
    let pricing = Pricing::builtin();
    let fees = |m: &str| pricing.lookup(m).price.tool_fees;
    assert_eq!(
        (
            fees("claude-sonnet-4-5").web_search,
            fees("claude-sonnet-4-5").search_unit
        ),
        (10_000, SearchUnit::Query)
    );
    // LiteLLM states no search fee for Haiku 4.5: Anthropic's dearest applies.
    assert_eq!(fees("claude-haiku-4-5").web_search, 10_000);
    assert_eq!(
        fees("claude-haiku-4-5").code_execution,
        0,
        "Anthropic: per container-hour, not priced"
    );
    assert_eq!(fees("gpt-4.1").web_search, 25_000);
    assert_eq!(fees("gpt-5").web_search, 10_000);
    assert_eq!(
        fees("gpt-5").code_execution,
        30_000,
        "openai/container's session fee"
    );
    let flash3 = fees("gemini-3.8-flash");
    assert_eq!(
        (flash3.web_search, flash3.search_unit, flash3.maps_grounding),
        (14_000, SearchUnit::Query, 14_000)
    );
    let flash2 = fees("gemini-2.5-flash");
    assert_eq!(
        (flash2.web_search, flash2.search_unit, flash2.maps_grounding),
        (35_000, SearchUnit::Request, 25_000)
    );
    let err = format!("{:#}", Pricing::from_json(&table_json(&[("m", json!({"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6, "search_context_cost_per_query": {"search_context_size_low": 500.0}}))])).unwrap_err());
    assert!(
        err.contains("search_context_size_low") && err.contains("$100"),
        "{err}"
    );
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
        pricing.table_origin().2,
        2,
        "sample_spec, per-pixel and null entries skipped"
    );
    assert_eq!(
        pricing.models().len(),
        1,
        "the Bedrock spelling is priced but not listed as a name to ask for"
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
    assert!(
        json.get("longContext").is_none() && json.get("toolFees").is_none(),
        "omitted when empty"
    );
    let old: ModelPrice = serde_json::from_str(
        r#"{"input":1,"output":2,"cacheWrite5m":3,"cacheWrite1h":4,"cacheRead":5}"#,
    )
    .unwrap();
    assert_eq!(
        old,
        ModelPrice::flat(1, 2, 3, 4, 5),
        "prices recorded before tiers still read"
    );
    assert_eq!(json["cacheWrite5m"], 3_750_000);
    assert_eq!(json["cacheWrite1h"], 6_000_000);
    assert_eq!(json["cacheRead"], 300_000);
    assert_eq!(
        serde_json::to_value(PriceSource::Fallback).unwrap(),
        "fallback"
    );
}
