//! Exact integer costs: token kinds, rounding, the long-context tier, tool fees, reservations.

use super::*;

#[test]
fn cost_of_each_token_kind() {
    let cost = |u: TokenUsage| cost_micros(&SONNET, &u);
    assert_eq!(cost(usage(1_000_000, 0, 0, 0, 0)), 3_000_000);
    assert_eq!(cost(usage(0, 1_000_000, 0, 0, 0)), 15_000_000);
    assert_eq!(cost(usage(0, 0, 1_000_000, 0, 0)), 3_750_000);
    assert_eq!(cost(usage(0, 0, 0, 1_000_000, 0)), 6_000_000);
    assert_eq!(cost(usage(0, 0, 0, 0, 1_000_000)), 300_000);
    assert_eq!(
        cost(usage(1_000_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000)),
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
    let half = ModelPrice::flat(500_000, 0, 0, 0, 0);
    assert_eq!(
        cost_micros(&half, &usage(1, 0, 0, 0, 0)),
        1,
        "0.5 rounds half up"
    );
    // Rounding each kind separately would give 4 + 0; the sum 3.75 + 0.3 rounds once.
    assert_eq!(
        cost_micros(&SONNET, &usage(0, 0, 1, 0, 1)),
        4,
        "3.75 + 0.3 = 4.05"
    );
}

#[test]
fn cost_saturates_instead_of_overflowing() {
    let max = ModelPrice {
        tool_fees: ToolFees {
            web_search: i64::MAX,
            search_unit: SearchUnit::Query,
            code_execution: i64::MAX,
            maps_grounding: i64::MAX,
        },
        ..ModelPrice::flat(i64::MAX, i64::MAX, i64::MAX, i64::MAX, i64::MAX)
    };
    let all = usage(u64::MAX, u64::MAX, u64::MAX, u64::MAX, u64::MAX);
    let tools = ServerToolUse {
        web_searches: u64::MAX,
        grounded_requests: u64::MAX,
        code_executions: u64::MAX,
        maps_queries: u64::MAX,
    };
    assert_eq!(cost_micros(&max, &all), i64::MAX);
    assert_eq!(cost_with_tools_micros(&max, &all, &tools), i64::MAX);
    assert_eq!(worst_case_micros(&max, u64::MAX, u64::MAX), i64::MAX);
    let huge = RequestEstimate {
        prompt_tokens: u64::MAX,
        max_output_tokens: u64::MAX,
        answers: u64::MAX,
        tools,
    };
    assert_eq!(estimate_micros(&max, &huge), i64::MAX);
}

#[test]
fn worst_case_uses_the_dearest_input_rate_and_rounds_up() {
    // 1000 tokens at the 1h write rate ($6) + 100 output tokens at $15.
    assert_eq!(worst_case_micros(&SONNET, 1000, 100), 6_000 + 1_500);
    let cheap = ModelPrice::flat(100_000, 100_000, 100_000, 100_000, 10_000);
    assert_eq!(worst_case_micros(&cheap, 1, 0), 1, "0.1 micros reserves 1");
    assert_eq!(worst_case_micros(&cheap, 0, 0), 0);
}

/// Gemini 2.5 Pro's shape: $1.25 / $10, above 200k prompt tokens $2.50 / $15.
fn tiered() -> ModelPrice {
    ModelPrice {
        long_context: Some(LongContext {
            above_prompt_tokens: 200_000,
            rates: TokenRates {
                input: 2_500_000,
                output: 15_000_000,
                cache_write_5m: 2_500_000,
                cache_write_1h: 2_500_000,
                cache_read: 250_000,
            },
        }),
        ..ModelPrice::flat(1_250_000, 10_000_000, 1_250_000, 1_250_000, 125_000)
    }
}

#[test]
fn a_prompt_above_the_threshold_bills_every_token_at_the_long_context_rates() {
    let p = tiered();
    // Exactly at the threshold: standard. 200 000 × 1.25 + 1 000 × 10 = 260 000 micros.
    assert_eq!(cost_micros(&p, &usage(200_000, 1_000, 0, 0, 0)), 260_000);
    // One token more: the whole request at the tier. 200 001 × 2.5 + 1 000 × 15.
    assert_eq!(cost_micros(&p, &usage(200_001, 1_000, 0, 0, 0)), 515_003);
    // Cached tokens count toward the prompt: 100k input + 150k cache read is above 200k.
    assert_eq!(
        cost_micros(&p, &usage(100_000, 0, 0, 0, 150_000)),
        100_000 * 5 / 2 + 150_000 / 4
    );
    assert_eq!(
        cost_micros(&p, &usage(100_000, 0, 0, 0, 100_000)),
        125_000 + 12_500
    );
}

#[test]
fn reservations_price_the_tier_answers_and_tools() {
    let p = tiered();
    // Below the threshold the standard dearest input rate; above it the tier's.
    assert_eq!(worst_case_micros(&p, 100_000, 1_000), 125_000 + 10_000);
    assert_eq!(worst_case_micros(&p, 300_000, 1_000), 750_000 + 15_000);
    let with_answers = RequestEstimate {
        prompt_tokens: 100_000,
        max_output_tokens: 1_000,
        answers: 4,
        tools: ServerToolUse::default(),
    };
    assert_eq!(estimate_micros(&p, &with_answers), 125_000 + 4 * 10_000);
    let zero_answers = RequestEstimate {
        answers: 0,
        ..with_answers
    };
    assert_eq!(
        estimate_micros(&p, &zero_answers),
        125_000 + 10_000,
        "0 counts as 1"
    );
    let searching = ModelPrice {
        tool_fees: ToolFees {
            web_search: 10_000,
            ..ToolFees::default()
        },
        ..SONNET
    };
    let five_searches = RequestEstimate {
        prompt_tokens: 1_000,
        max_output_tokens: 100,
        answers: 1,
        tools: ServerToolUse {
            web_searches: 5,
            ..ServerToolUse::default()
        },
    };
    assert_eq!(
        estimate_micros(&searching, &five_searches),
        6_000 + 1_500 + 50_000
    );
}

#[test]
fn tool_fees_are_added_to_the_token_cost() {
    let p = ModelPrice {
        tool_fees: ToolFees {
            web_search: 10_000,
            search_unit: SearchUnit::Query,
            code_execution: 30_000,
            maps_grounding: 25_000,
        },
        ..SONNET
    };
    let tools = ServerToolUse {
        web_searches: 3,
        grounded_requests: 1,
        code_executions: 2,
        maps_queries: 1,
    };
    // 1 000 input tokens = 3 000 micros; 3 searches, 2 sessions, 1 maps query.
    assert_eq!(
        cost_with_tools_micros(&p, &usage(1_000, 0, 0, 0, 0), &tools),
        3_000 + 30_000 + 60_000 + 25_000
    );
    assert_eq!(
        cost_micros(&p, &usage(1_000, 0, 0, 0, 0)),
        3_000,
        "tokens only"
    );
    // One rounding over tokens and fees: 0.3 + 10 000 rounds to 10 000.
    let one_search = ServerToolUse {
        web_searches: 1,
        ..ServerToolUse::default()
    };
    assert_eq!(
        cost_with_tools_micros(&p, &usage(0, 0, 0, 0, 1), &one_search),
        10_000
    );
}

#[test]
fn gemini_2_grounding_is_billed_per_grounded_answer_not_per_query() {
    let per_request = ModelPrice {
        tool_fees: ToolFees {
            web_search: 35_000,
            search_unit: SearchUnit::Request,
            ..ToolFees::default()
        },
        ..SONNET
    };
    let none = TokenUsage::default();
    let grounded = |queries, answers| ServerToolUse {
        web_searches: queries,
        grounded_requests: answers,
        ..ServerToolUse::default()
    };
    assert_eq!(
        cost_with_tools_micros(&per_request, &none, &grounded(4, 1)),
        35_000
    );
    assert_eq!(
        cost_with_tools_micros(&per_request, &none, &grounded(4, 0)),
        35_000,
        "queries imply a grounded answer"
    );
    assert_eq!(
        cost_with_tools_micros(&per_request, &none, &grounded(0, 2)),
        70_000
    );
    let per_query = ModelPrice {
        tool_fees: ToolFees {
            search_unit: SearchUnit::Query,
            ..per_request.tool_fees
        },
        ..per_request
    };
    assert_eq!(
        cost_with_tools_micros(&per_query, &none, &grounded(4, 1)),
        140_000
    );
}

#[test]
fn exact_costs_of_shipped_models() {
    let pricing = Pricing::builtin();
    let cost = |model: &str, u: TokenUsage| cost_micros(&pricing.lookup(model).price, &u);
    // Claude Opus 4.8: $5 in, $25 out, $6.25 / $10 cache writes, $0.50 cache read.
    assert_eq!(
        cost(
            "claude-opus-4-8",
            usage(10_000, 2_000, 1_000, 1_000, 50_000)
        ),
        50_000 + 50_000 + 6_250 + 10_000 + 25_000
    );
    // Claude Haiku 5.5 has a 100k tier: $0.10 / $0.50 below, $0.50 / $2.50 above.
    assert_eq!(
        cost("claude-haiku-5-5", usage(100_000, 10_000, 0, 0, 0)),
        10_000 + 5_000
    );
    assert_eq!(
        cost("claude-haiku-5-5", usage(100_001, 10_000, 0, 0, 0)),
        50_001 + 25_000
    );
    // Gemini 3.1 Pro (Gemini API): $2 / $12, above 200k $4 / $18, cache read $0.20 → $0.40.
    assert_eq!(
        cost(
            "gemini-3.1-pro-preview",
            usage(150_000, 10_000, 0, 0, 40_000)
        ),
        300_000 + 120_000 + 8_000
    );
    assert_eq!(
        cost(
            "gemini-3.1-pro-preview",
            usage(150_000, 10_000, 0, 0, 60_000)
        ),
        600_000 + 180_000 + 24_000
    );
    // GPT-5.4: $2.50 / $15, above 272k $5 / $22.50.
    assert_eq!(
        cost("gpt-5.4", usage(272_000, 1_000, 0, 0, 0)),
        680_000 + 15_000
    );
    assert_eq!(
        cost("gpt-5.4", usage(272_001, 1_000, 0, 0, 0)),
        1_360_005 + 22_500
    );
    // Gemini 3.8 Flash via its bare name: $0.75 / $3.75, search $14 per 1 000 queries.
    let flash = pricing.lookup("gemini-3.8-flash").price;
    let searches = ServerToolUse {
        web_searches: 2,
        ..ServerToolUse::default()
    };
    assert_eq!(
        cost_with_tools_micros(&flash, &usage(1_000_000, 100_000, 0, 0, 0), &searches),
        750_000 + 375_000 + 28_000
    );
    // Claude web search: $10 per 1 000 searches.
    let sonnet = pricing.lookup("claude-sonnet-4-5").price;
    let one = ServerToolUse {
        web_searches: 1,
        ..ServerToolUse::default()
    };
    assert_eq!(
        cost_with_tools_micros(&sonnet, &TokenUsage::default(), &one),
        10_000
    );
}
