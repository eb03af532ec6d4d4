-- One row per request (id and tenant): its cost in USD, from the prices
-- int_request_prices_resolved found in force.
-- 1. The gateway's cost_usd wins (cost_source 'gateway').
-- 2. Else, with an input and an output price in force: ((prompt - cached) x
--    input + cached x cached_input + completion x output) / 1e6, plus latency
--    seconds x the compute price when there is one ('price_table').
-- 3. Else the call is unpriced: cost_usd null, never zero ('unpriced').
with

requests as (
    select * from {{ ref('stg_gateway__requests') }}
),

prices as (
    select * from {{ ref('int_request_prices_resolved') }}
),

list_priced as (
    select
        requests.request_id,
        requests.tenant_id,
        requests.agent_id,
        requests.model,
        prices.billed_model,
        requests.provider,
        prices.model_tier,
        requests.prompt_tokens,
        requests.cached_tokens,
        requests.prompt_tokens - requests.cached_tokens as uncached_prompt_tokens,
        requests.completion_tokens,
        requests.latency_ms,
        requests.reported_cost_usd,
        prices.input_usd_per_million_tokens,
        prices.cached_input_usd_per_million_tokens,
        prices.output_usd_per_million_tokens,
        prices.compute_usd_per_second,
        case
            when
                prices.input_usd_per_million_tokens is not null
                and prices.output_usd_per_million_tokens is not null
                then (
                    cast(requests.prompt_tokens - requests.cached_tokens as double precision)
                    * prices.input_usd_per_million_tokens
                    + cast(requests.cached_tokens as double precision)
                    * prices.cached_input_usd_per_million_tokens
                    + cast(requests.completion_tokens as double precision)
                    * prices.output_usd_per_million_tokens
                ) / 1000000.0
                + coalesce(requests.latency_ms / 1000.0 * prices.compute_usd_per_second, 0.0)
        end as list_price_cost_usd,
        requests.created_at
    from requests
    inner join prices
        on
            requests.request_id = prices.request_id
            and requests.tenant_id = prices.tenant_id
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
    from list_priced
)

select * from priced
