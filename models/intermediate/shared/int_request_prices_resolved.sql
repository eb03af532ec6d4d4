-- One row per request (id and tenant): the prices in force for it, from the price table
-- (model_prices), and nothing about what it costs:
-- 1. The billed model is served_model, else model.
-- 2. A price row applies when its model_pattern (a regular expression) matches
--    the billed model and its provider is the call's (any provider when the
--    call names none).
-- 3. Of the matching patterns, per token type, the longest wins (ties: the
--    pattern, then the provider, alphabetically).
-- 4. Of that pattern's rows, the one whose [valid_from, next valid_from)
--    window holds the call's UTC created_at is in force.
-- 5. Cached input tokens fall back to the input price when no cached_input
--    price is in force. A request without any price in force keeps nulls and
--    the model tier 'unknown'.
with

requests as (
    select
        request_id,
        tenant_id,
        coalesce(served_model, model) as billed_model,
        coalesce(provider, '') as provider_key,
        created_at at time zone 'UTC' as created_at_utc
    from {{ ref('stg_gateway__requests') }}
),

prices_windowed as (
    -- the price rows, their windows and the patterns' priority (one rule, shared with --plan)
    select * from {{ ref('int_model_prices_ranked') }}
),

billed_models as (
    select distinct
        billed_model,
        provider_key
    from requests
),

patterns_matched as (
    select distinct
        billed_models.billed_model,
        billed_models.provider_key,
        prices_windowed.token_type,
        prices_windowed.model_pattern,
        prices_windowed.provider as price_provider,
        prices_windowed.model_tier,
        prices_windowed.pattern_priority
    from billed_models
    inner join prices_windowed
        on {{ trellis.regex_matches('billed_models.billed_model', 'prices_windowed.model_pattern') }}
    where billed_models.provider_key in ('', prices_windowed.provider)
),

patterns_ranked as (
    select
        *,
        row_number() over (
            partition by billed_model, provider_key, token_type
            order by pattern_priority asc
        ) as pattern_rank
    from patterns_matched
),

price_rows_chosen as (
    select
        patterns_ranked.billed_model,
        patterns_ranked.provider_key,
        patterns_ranked.model_tier,
        prices_windowed.token_type,
        prices_windowed.usd_per_million_tokens,
        prices_windowed.usd_per_second,
        prices_windowed.valid_from_utc,
        prices_windowed.valid_to_utc
    from patterns_ranked
    inner join prices_windowed
        on
            patterns_ranked.model_pattern = prices_windowed.model_pattern
            and patterns_ranked.price_provider = prices_windowed.provider
            and patterns_ranked.token_type = prices_windowed.token_type
    where patterns_ranked.pattern_rank = 1
),

prices_in_force as (
    select
        requests.request_id,
        requests.tenant_id,
        max(case when price_rows_chosen.token_type = 'input' then price_rows_chosen.model_tier end) as model_tier,
        max(case when price_rows_chosen.token_type = 'input' then price_rows_chosen.usd_per_million_tokens end)
            as input_usd_per_million_tokens,
        max(case when price_rows_chosen.token_type = 'cached_input' then price_rows_chosen.usd_per_million_tokens end)
            as cached_input_usd_per_million_tokens,
        max(case when price_rows_chosen.token_type = 'output' then price_rows_chosen.usd_per_million_tokens end)
            as output_usd_per_million_tokens,
        max(case when price_rows_chosen.token_type = 'compute' then price_rows_chosen.usd_per_second end)
            as compute_usd_per_second
    from requests
    inner join price_rows_chosen
        on
            requests.billed_model = price_rows_chosen.billed_model
            and requests.provider_key = price_rows_chosen.provider_key
            and requests.created_at_utc >= price_rows_chosen.valid_from_utc
            and (price_rows_chosen.valid_to_utc is null or requests.created_at_utc < price_rows_chosen.valid_to_utc)
    group by requests.request_id, requests.tenant_id
),

resolved as (
    select
        requests.request_id,
        requests.tenant_id,
        requests.billed_model,
        coalesce(prices_in_force.model_tier, 'unknown') as model_tier,
        prices_in_force.input_usd_per_million_tokens,
        coalesce(
            prices_in_force.cached_input_usd_per_million_tokens, prices_in_force.input_usd_per_million_tokens
        ) as cached_input_usd_per_million_tokens,
        prices_in_force.output_usd_per_million_tokens,
        prices_in_force.compute_usd_per_second
    from requests
    left join prices_in_force
        on
            requests.request_id = prices_in_force.request_id
            and requests.tenant_id = prices_in_force.tenant_id
)

select * from resolved
