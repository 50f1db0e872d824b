//! Unknown names priced by their family's newest model.

use super::*;

fn priced(pricing: &Pricing, model: &str) -> (PriceRule, Option<String>, Option<String>) {
    let e = pricing.explain(model);
    (e.lookup.rule, e.family, e.priced_as)
}

fn family(rule: &str, model: &str) -> (PriceRule, Option<String>, Option<String>) {
    (
        PriceRule::Family,
        Some(rule.to_string()),
        Some(model.to_string()),
    )
}

#[test]
fn the_names_from_the_issue_are_priced_as_flash_lite_and_flash() {
    let pricing = Pricing::builtin();
    // Both are in LiteLLM's table by now (as `gemini/…`): found by their bare name.
    let lite = pricing.explain("gemini-3.5-flash-lite");
    assert_eq!(lite.lookup.rule, PriceRule::Alias);
    assert_eq!(
        (lite.lookup.price.input, lite.lookup.price.output),
        (300_000, 2_500_000)
    );
    let flash = pricing.explain("gemini-3.8-flash");
    assert_eq!(flash.lookup.rule, PriceRule::Alias);
    assert_eq!(
        (flash.lookup.price.input, flash.lookup.price.output),
        (750_000, 3_750_000)
    );
    // Their successors are not: priced by family, never at the $15 / $75 fallback.
    assert_eq!(
        priced(&pricing, "gemini-3.9-flash-lite"),
        family("gemini-*-flash-lite*", "gemini-3.5-flash-lite")
    );
    assert_eq!(
        priced(&pricing, "gemini-3.9-flash"),
        family("gemini-*-flash*", "gemini-3.8-flash")
    );
    for model in [
        "gemini-3.9-flash-lite",
        "gemini-3.9-flash",
        "gemini-4.2-flash-exp",
        "models/gemini-5-flash-lite-preview-11-2026",
    ] {
        let found = pricing.lookup(model);
        assert_eq!(
            found.source,
            PriceSource::Fallback,
            "{model} is an unknown name"
        );
        assert!(
            found.price.output < 5_000_000,
            "{model} priced like a flash model: {:?}",
            found.price
        );
    }
}

#[test]
fn each_documented_family_finds_its_newest_model() {
    let pricing = Pricing::builtin();
    let cases = [
        // Named families: the newest canonical model, previews included.
        ("gemini-3.9-pro", "gemini-*-pro*", "gemini-3.1-pro-preview"),
        (
            "gemini-3.9-pro-exp",
            "gemini-*-pro*",
            "gemini-3.1-pro-preview",
        ),
        (
            "gemini-3.9-flash-lite-exp",
            "gemini-*-flash-lite*",
            "gemini-3.5-flash-lite",
        ),
        ("claude-opus-6", "claude-*opus*", "claude-opus-5-5"),
        (
            "claude-opus-4-9-20270101",
            "claude-*opus*",
            "claude-opus-5-5",
        ),
        ("claude-4-opus-thinking", "claude-*opus*", "claude-opus-5-5"),
        ("claude-sonnet-6-1", "claude-*sonnet*", "claude-sonnet-5-5"),
        ("claude-haiku-6", "claude-*haiku*", "claude-haiku-5-5"),
        ("gpt-7-mini", "gpt-*-mini*", "gpt-5.4-mini"),
        ("gpt-6-nano-fast", "gpt-*-nano*", "gpt-5.4-nano"),
        (
            "gpt-5.9-codex-mini",
            "gpt-*-codex-mini*",
            "gpt-5.1-codex-mini",
        ),
        ("o5-mini", "o*-mini*", "o4-mini"),
        ("o5-mini-high", "o*-mini*", "o4-mini"),
        // Same shape, for names no named family covers.
        ("gpt-6.5-luna", "gpt-*-luna", "gpt-6-luna"),
        ("gpt-7", "gpt-*", "gpt-5.6"),
        ("o5", "o*", "o3"),
    ];
    for (model, rule, newest) in cases {
        let (r, f, as_) = priced(&pricing, model);
        assert_eq!(
            (r, f.as_deref()),
            (PriceRule::Family, Some(rule)),
            "{model}"
        );
        let expected = pricing.lookup(newest);
        assert_ne!(
            expected.source,
            PriceSource::Fallback,
            "{newest} must be known"
        );
        assert_eq!(
            pricing.lookup(model).price,
            expected.price,
            "{model} priced as {as_:?}, expected {newest}"
        );
    }
}

#[test]
fn names_no_family_knows_fall_back_to_the_dearest_claude_price() {
    let pricing = Pricing::builtin();
    for model in [
        "mystery-model-9",
        "gemini-3.9-flash-image-gen",
        "llama-4-maverick",
        "claude-unknown",
    ] {
        let found = pricing.explain(model);
        assert_eq!(found.lookup.rule, PriceRule::Fallback, "{model}: {found:?}");
        assert_eq!(found.lookup.source, PriceSource::Fallback);
        assert_eq!(found.lookup.price.base(), FALLBACK_PRICE.base());
    }
    let claude_max = pricing
        .catalog()
        .into_iter()
        .filter(|m| m.provider.as_deref() == Some("anthropic"))
        .map(|m| m.price.output)
        .max()
        .unwrap();
    assert!(
        FALLBACK_PRICE.output >= claude_max,
        "never below a Claude price"
    );
    let fees = pricing.fallback_price().tool_fees;
    assert!(fees.web_search >= 35_000, "the dearest search fee");
    assert_eq!(fees.search_unit, SearchUnit::Query, "every search billed");
}

#[test]
fn newest_is_decided_by_version_then_stability_then_name() {
    let entry = |input: f64| serde_json::json!({"input_cost_per_token": input, "output_cost_per_token": input});
    let pricing = Pricing::from_json(&table_json(&[
        ("gemini-2.5-flash", entry(1e-6)),
        ("gemini-10-flash-preview", entry(4e-6)),
        ("gemini-10-flash", entry(3e-6)),
        ("gemini-9.9-flash", entry(2e-6)),
        ("claude-opus-4-8", entry(5e-6)),
        ("claude-opus-5", entry(6e-6)),
        ("claude-3-opus-20240229", entry(7e-6)),
        ("gpt-6-luna", entry(1e-7)),
        ("gpt-5.6-luna", entry(2e-7)),
    ]))
    .unwrap();
    // 10 > 9.9 numerically; the stable name beats the preview of the same version.
    assert_eq!(
        priced(&pricing, "gemini-11-flash"),
        family("gemini-*-flash*", "gemini-10-flash")
    );
    assert_eq!(
        priced(&pricing, "gemini-11-flash-exp"),
        family("gemini-*-flash*", "gemini-10-flash")
    );
    // [5] is newer than [4, 8] and than the older naming's [3].
    assert_eq!(
        priced(&pricing, "claude-opus-4-9"),
        family("claude-*opus*", "claude-opus-5")
    );
    assert_eq!(
        priced(&pricing, "claude-3-5-opus"),
        family("claude-*opus*", "claude-opus-5")
    );
    assert_eq!(
        priced(&pricing, "gpt-7-luna"),
        family("gpt-*-luna", "gpt-6-luna")
    );
    // The table's order does not matter: the same table reversed gives the same answers.
    let reversed = Pricing::from_json(&table_json(&[
        ("gpt-5.6-luna", entry(2e-7)),
        ("gpt-6-luna", entry(1e-7)),
        ("claude-3-opus-20240229", entry(7e-6)),
        ("claude-opus-5", entry(6e-6)),
        ("claude-opus-4-8", entry(5e-6)),
        ("gemini-9.9-flash", entry(2e-6)),
        ("gemini-10-flash", entry(3e-6)),
        ("gemini-10-flash-preview", entry(4e-6)),
        ("gemini-2.5-flash", entry(1e-6)),
    ]))
    .unwrap();
    for model in [
        "gemini-11-flash",
        "gemini-11-flash-exp",
        "claude-opus-4-9",
        "claude-3-5-opus",
        "gpt-7-luna",
    ] {
        assert_eq!(pricing.lookup(model), reversed.lookup(model), "{model}");
    }
}

#[test]
fn overrides_take_part_in_families() {
    let base = Pricing::builtin();
    let house = ModelPrice::flat(100_000, 200_000, 100_000, 100_000, 10_000);
    let pricing = base.with_overrides(&[("gemini-4.0-flash".to_string(), house)]);
    assert_eq!(
        priced(&pricing, "gemini-4.1-flash"),
        family("gemini-*-flash*", "gemini-4.0-flash")
    );
    assert_eq!(
        pricing.lookup("gemini-4.1-flash").price.base(),
        house.base()
    );
    assert_eq!(
        base.lookup("gemini-4.1-flash").price.input,
        750_000,
        "without the override"
    );
}
