{{ config(tags=['agents']) }}

-- One row per request: its cost in USD. The gateway's cost_usd wins; else the
-- price table in force at call time, for the most specific matching pattern:
-- (prompt - cached) x input + cached x cached_input (input when no cached
-- price is in force) + completion x output, per million tokens, plus latency
-- seconds x compute price. A call without an input and output price in force
-- is unpriced: cost_usd null, never zero.
with

requests as (
    select
        request_id,
        tenant_id,
        agent_id,
        model,
        coalesce(served_model, model) as billed_model,
        provider,
        coalesce(provider, '') as provider_key,
        prompt_tokens,
        cached_tokens,
        completion_tokens,
        latency_ms,
        reported_cost_usd,
        created_at,
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
    group by requests.request_id
),

computed as (
    select
        requests.request_id,
        requests.tenant_id,
        requests.agent_id,
        requests.model,
        requests.billed_model,
        requests.provider,
        coalesce(prices_in_force.model_tier, 'unknown') as model_tier,
        requests.prompt_tokens,
        requests.cached_tokens,
        requests.prompt_tokens - requests.cached_tokens as uncached_prompt_tokens,
        requests.completion_tokens,
        requests.latency_ms,
        requests.reported_cost_usd,
        prices_in_force.input_usd_per_million_tokens,
        coalesce(
            prices_in_force.cached_input_usd_per_million_tokens, prices_in_force.input_usd_per_million_tokens
        ) as cached_input_usd_per_million_tokens,
        prices_in_force.output_usd_per_million_tokens,
        prices_in_force.compute_usd_per_second,
        case
            when
                prices_in_force.input_usd_per_million_tokens is not null
                and prices_in_force.output_usd_per_million_tokens is not null
                then (
                    cast(requests.prompt_tokens - requests.cached_tokens as double precision)
                    * prices_in_force.input_usd_per_million_tokens
                    + cast(requests.cached_tokens as double precision)
                    * coalesce(
                        prices_in_force.cached_input_usd_per_million_tokens,
                        prices_in_force.input_usd_per_million_tokens
                    )
                    + cast(requests.completion_tokens as double precision)
                    * prices_in_force.output_usd_per_million_tokens
                ) / 1000000.0
                + coalesce(requests.latency_ms / 1000.0 * prices_in_force.compute_usd_per_second, 0.0)
        end as list_price_cost_usd,
        requests.created_at
    from requests
    left join prices_in_force
        on requests.request_id = prices_in_force.request_id
),

priced as (
    select
        request_id,
        tenant_id,
        agent_id,
        model,
        billed_model,
        provider,
        model_tier,
        case
            when reported_cost_usd is not null then 'gateway'
            when list_price_cost_usd is not null then 'price_table'
            else 'unpriced'
        end as cost_source,
        prompt_tokens,
        cached_tokens,
        uncached_prompt_tokens,
        completion_tokens,
        latency_ms,
        input_usd_per_million_tokens,
        cached_input_usd_per_million_tokens,
        output_usd_per_million_tokens,
        compute_usd_per_second,
        list_price_cost_usd,
        coalesce(reported_cost_usd, list_price_cost_usd) as cost_usd,
        coalesce(reported_cost_usd, list_price_cost_usd) is not null as is_priced,
        created_at,
        cast(created_at at time zone 'UTC' as date) as call_date
    from computed
)

select * from priced
