-- One row per agent x model x UTC day with calls: the observations the
-- confidence scores learn from. An observation is a call whose outcome is not
-- 'cancelled'; a success is outcome 'success'. Both the global and the
-- per-agent scores read this model, so they share one definition.
with

calls as (
    select * from {{ ref('int_agent_requests_attributed') }}
),

observed as (
    select
        agent_id,
        model,
        call_date,
        count(*) as observation_count,
        cast(sum(case when outcome = 'success' then 1 else 0 end) as bigint) as success_count
    from calls
    where outcome != 'cancelled'
    group by agent_id, model, call_date
)

select * from observed
