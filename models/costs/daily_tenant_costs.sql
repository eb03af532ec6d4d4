with

calls as (
    select * from {{ ref('int_request_costs_priced') }}
),

days as (
    select * from {{ ref('int_days_spined') }}
),

tenant_days as (
    select
        tenant_id,
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
    group by tenant_id, call_date
),

tenants_first_seen as (
    select
        tenant_id,
        min(call_date) as first_date
    from tenant_days
    group by tenant_id
),

densified as (
    select
        tenants_first_seen.tenant_id,
        days.spine_date as cost_date,
        coalesce(tenant_days.call_count, 0) as call_count,
        coalesce(tenant_days.priced_call_count, 0) as priced_call_count,
        coalesce(tenant_days.gateway_priced_call_count, 0) as gateway_priced_call_count,
        coalesce(tenant_days.unpriced_call_count, 0) as unpriced_call_count,
        cast(coalesce(tenant_days.prompt_tokens, 0) as bigint) as prompt_tokens,
        cast(coalesce(tenant_days.cached_tokens, 0) as bigint) as cached_tokens,
        cast(coalesce(tenant_days.uncached_prompt_tokens, 0) as bigint) as uncached_prompt_tokens,
        cast(coalesce(tenant_days.completion_tokens, 0) as bigint) as completion_tokens,
        coalesce(tenant_days.cost_usd, 0.0) as cost_usd
    from tenants_first_seen
    inner join days
        on tenants_first_seen.first_date <= days.spine_date
    left join tenant_days
        on
            tenants_first_seen.tenant_id = tenant_days.tenant_id
            and days.spine_date = tenant_days.call_date
),

final as (
    select
        tenant_id,
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
