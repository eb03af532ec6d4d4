with

calls as (
    select * from {{ ref('int_agent_requests_attributed') }}
),

aggregated as (
    select
        agent_id,
        model,
        call_date,
        count(*) as call_count,
        cast(sum(case when outcome = 'success' then 1 else 0 end) as bigint) as success_count,
        cast(sum(case when is_fallback_used then 1 else 0 end) as bigint) as fallback_count,
        cast(sum(case when outcome = 'timeout' then 1 else 0 end) as bigint) as timeout_count,
        cast(sum(case when outcome = 'error' then 1 else 0 end) as bigint) as error_count,
        cast(sum(case when outcome = 'user_rejected' then 1 else 0 end) as bigint) as user_rejected_count,
        cast(sum(case when outcome = 'cancelled' then 1 else 0 end) as bigint) as cancelled_count,
        cast(sum(case when feedback_count > 0 then 1 else 0 end) as bigint) as feedback_call_count,
        count(completion_quality) as quality_rated_call_count,
        avg(completion_quality) as mean_completion_quality,
        cast(sum(case when rating = 1 then 1 else 0 end) as bigint) as thumbs_up_count,
        cast(sum(case when rating = -1 then 1 else 0 end) as bigint) as thumbs_down_count
    from calls
    group by agent_id, model, call_date
)

select * from aggregated
