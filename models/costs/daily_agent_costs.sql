with

calls as (
    select * from {{ ref('int_request_costs_priced') }}
),

days as (
    select * from {{ ref('int_days_spined') }}
),

agent_days as (
    select
        agent_id,
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
    group by agent_id, call_date
),

agents_first_seen as (
    select
        agent_id,
        min(call_date) as first_date
    from agent_days
    group by agent_id
),

densified as (
    select
        agents_first_seen.agent_id,
        days.spine_date as cost_date,
        coalesce(agent_days.call_count, 0) as call_count,
        coalesce(agent_days.priced_call_count, 0) as priced_call_count,
        coalesce(agent_days.gateway_priced_call_count, 0) as gateway_priced_call_count,
        coalesce(agent_days.unpriced_call_count, 0) as unpriced_call_count,
        cast(coalesce(agent_days.prompt_tokens, 0) as bigint) as prompt_tokens,
        cast(coalesce(agent_days.cached_tokens, 0) as bigint) as cached_tokens,
        cast(coalesce(agent_days.uncached_prompt_tokens, 0) as bigint) as uncached_prompt_tokens,
        cast(coalesce(agent_days.completion_tokens, 0) as bigint) as completion_tokens,
        coalesce(agent_days.cost_usd, 0.0) as cost_usd
    from agents_first_seen
    inner join days
        on agents_first_seen.first_date <= days.spine_date
    left join agent_days
        on
            agents_first_seen.agent_id = agent_days.agent_id
            and days.spine_date = agent_days.call_date
),

final as (
    select
        agent_id,
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
