//! Exact and normalised names, overrides on top, and which rule answered.

use super::*;

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
        pricing.lookup("claude-sonnet-4-5-20250929").rule,
        PriceRule::Exact,
        "a table key"
    );
    assert_eq!(
        pricing.lookup("claude-sonnet-4-5[1m]").rule,
        PriceRule::Alias
    );
    assert_eq!(
        pricing.lookup("gpt-4o-2024-08-06").price,
        pricing.lookup("gpt-4o").price
    );
    assert_eq!(
        pricing.lookup("models/gemini-2.5-pro").price.input,
        1_250_000
    );
    assert_eq!(
        pricing.lookup("claude-opus-4-6").max_output_tokens,
        Some(128_000)
    );
    // LiteLLM's alias entries are priced as their target.
    assert_eq!(
        pricing.lookup("claude-opus-latest").price,
        pricing.lookup("claude-opus-5-5").price
    );
    assert_eq!(pricing.lookup("claude-opus-latest").rule, PriceRule::Exact);
}

#[test]
fn explain_names_the_model_a_price_was_taken_from() {
    let pricing = Pricing::builtin();
    let alias = pricing.explain("gemini-3.8-flash");
    assert_eq!(alias.priced_as.as_deref(), Some("gemini-3.8-flash"));
    assert_eq!(
        (alias.lookup.source, alias.family),
        (PriceSource::Table, None)
    );
    let unknown = pricing.explain("mystery-model-9");
    assert_eq!((unknown.family, unknown.priced_as), (None, None));
    assert_eq!(unknown.lookup.price, pricing.fallback_price());
}

#[test]
fn overrides_win_and_apply_to_spellings_of_the_model() {
    let cheap = ModelPrice::flat(1, 2, 3, 4, 5);
    let pricing = Pricing::builtin().with_overrides(&[
        ("claude-sonnet-4-5".to_string(), cheap),
        ("house-model".to_string(), cheap),
    ]);
    for (name, rule) in [
        ("claude-sonnet-4-5", PriceRule::Exact),
        ("claude-sonnet-4-5-20250929", PriceRule::Alias),
        ("house-model", PriceRule::Exact),
    ] {
        let found = pricing.lookup(name);
        assert_eq!(
            (found.price.base(), found.source, found.rule),
            (cheap.base(), PriceSource::Override, rule),
            "{name}"
        );
    }
    // An override is one flat price and keeps the table's tool fees and output ceiling.
    let sonnet = pricing.lookup("claude-sonnet-4-5");
    assert_eq!(sonnet.price.long_context, None);
    assert_eq!(sonnet.price.tool_fees.web_search, 10_000);
    assert_eq!(sonnet.max_output_tokens, Some(64_000));
    assert_eq!(
        pricing.lookup("claude-sonnet-4-6").source,
        PriceSource::Table
    );
    let catalog = pricing.catalog();
    let row = catalog
        .iter()
        .find(|r| r.model == "claude-sonnet-4-5")
        .unwrap();
    assert_eq!(
        (row.price.base(), row.source),
        (cheap.base(), PriceSource::Override)
    );
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
    let price = |input| ModelPrice::flat(input, 0, 0, 0, 0);
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
fn apply_overrides_keeps_a_table_swapped_in_meanwhile() {
    let shared = arc_swap::ArcSwap::from_pointee(Pricing::builtin());
    let house = ModelPrice::flat(7, 7, 7, 7, 7);
    apply_overrides(&shared, &[("house-model".to_string(), house)]);
    assert_eq!(
        shared.load().lookup("house-model").source,
        PriceSource::Override
    );
    let refreshed = Pricing::from_json(
        r#"{"new-model": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}}"#,
    )
    .unwrap();
    shared.rcu(|current| current.with_table(refreshed.table.clone()));
    assert_eq!(shared.load().lookup("new-model").source, PriceSource::Table);
    assert_eq!(
        shared.load().lookup("house-model").source,
        PriceSource::Override,
        "overrides survive a new table"
    );
    apply_overrides(&shared, &[]);
    assert_eq!(
        shared.load().lookup("new-model").source,
        PriceSource::Table,
        "the new table survives new overrides"
    );
}
