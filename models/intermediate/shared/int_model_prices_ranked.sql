-- One row per price row of the price table, with the window it is in force
-- and the priority of its pattern. The rules of which price applies live
-- here once, read by int_request_prices_resolved and by `trellis replay/judge
-- --plan` (trellis.runners.kit.prices):
-- 1. A price row is in force from its valid_from (UTC midnight) until the
--    next valid_from of the same pattern, provider and token type.
-- 2. When several patterns match a model, the one with the lowest
--    pattern_priority wins: the longest pattern, then the pattern, then the
--    provider in alphabetical order.
with

prices as (
    select * from {{ ref('model_prices') }}
),

windowed as (
    select
        model_pattern,
        provider,
        model_tier,
        token_type,
        usd_per_million_tokens,
        usd_per_second,
        length(model_pattern) as pattern_length,
        cast(valid_from as timestamp) as valid_from_utc,
        cast(lead(valid_from) over (
            partition by model_pattern, provider, token_type order by valid_from
        ) as timestamp) as valid_to_utc
    from prices
),

patterns as (
    select distinct
        model_pattern,
        provider,
        pattern_length
    from windowed
),

patterns_ranked as (
    select
        model_pattern,
        provider,
        row_number() over (
            order by pattern_length desc, model_pattern asc, provider asc
        ) as pattern_priority
    from patterns
),

ranked as (
    select
        windowed.model_pattern,
        windowed.provider,
        windowed.model_tier,
        windowed.token_type,
        windowed.usd_per_million_tokens,
        windowed.usd_per_second,
        windowed.pattern_length,
        patterns_ranked.pattern_priority,
        windowed.valid_from_utc,
        windowed.valid_to_utc
    from windowed
    inner join patterns_ranked
        on
            windowed.model_pattern = patterns_ranked.model_pattern
            and windowed.provider = patterns_ranked.provider
)

select * from ranked
