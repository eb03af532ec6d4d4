{#- The body of a daily cost mart for one dimension (agent_id, tenant_id):
    one row per dimension value x UTC day from its first call on, days without
    calls as zero rows, priced and unpriced calls counted apart. -#}
{% macro daily_cost_rollup(dimension) -%}
{%- set grain = dimension | replace('_id', '') -%}
with

calls as (
    select * from {{ ref('int_request_costs_priced') }}
),

days as (
    select * from {{ ref('int_days_spined') }}
),

{{ grain }}_days as (
    select
        {{ dimension }},
        call_date,
        count(*) as call_count,
        cast(sum(case when is_priced then 1 else 0 end) as bigint) as priced_call_count,
        cast(sum(case when cost_source = 'gateway' then 1 else 0 end) as bigint) as gateway_priced_call_count,
        cast(sum(case when is_priced then 0 else 1 end) as bigint) as unpriced_call_count,
        sum(prompt_tokens) as prompt_tokens,
        sum(cached_tokens) as cached_tokens,
        sum(uncached_prompt_tokens) as uncached_prompt_tokens,
        sum(completion_tokens) as completion_tokens,
        sum(cost_usd) as cost_usd
    from calls
    group by {{ dimension }}, call_date
),

{{ grain }}s_first_seen as (
    select
        {{ dimension }},
        min(call_date) as first_date
    from {{ grain }}_days
    group by {{ dimension }}
),

densified as (
    select
        {{ grain }}s_first_seen.{{ dimension }},
        days.spine_date as cost_date,
        coalesce({{ grain }}_days.call_count, 0) as call_count,
        coalesce({{ grain }}_days.priced_call_count, 0) as priced_call_count,
        coalesce({{ grain }}_days.gateway_priced_call_count, 0) as gateway_priced_call_count,
        coalesce({{ grain }}_days.unpriced_call_count, 0) as unpriced_call_count,
        cast(coalesce({{ grain }}_days.prompt_tokens, 0) as bigint) as prompt_tokens,
        cast(coalesce({{ grain }}_days.cached_tokens, 0) as bigint) as cached_tokens,
        cast(coalesce({{ grain }}_days.uncached_prompt_tokens, 0) as bigint) as uncached_prompt_tokens,
        cast(coalesce({{ grain }}_days.completion_tokens, 0) as bigint) as completion_tokens,
        coalesce({{ grain }}_days.cost_usd, 0.0) as cost_usd
    from {{ grain }}s_first_seen
    inner join days
        on {{ grain }}s_first_seen.first_date <= days.spine_date
    left join {{ grain }}_days
        on
            {{ grain }}s_first_seen.{{ dimension }} = {{ grain }}_days.{{ dimension }}
            and days.spine_date = {{ grain }}_days.call_date
),

final as (
    select
        {{ dimension }},
        call_count,
        priced_call_count,
        gateway_priced_call_count,
        unpriced_call_count,
        prompt_tokens,
        cached_tokens,
        uncached_prompt_tokens,
        completion_tokens,
        cost_usd,
        case
            when call_count = 0 then 0.0
            when priced_call_count > 0 then cost_usd / priced_call_count
        end as cost_per_call_usd,
        unpriced_call_count > 0 as has_unpriced_calls,
        cost_date
    from densified
)

select * from final
{%- endmacro %}
