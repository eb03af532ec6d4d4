-- One row per request (id and tenant) that has feedback: the latest outcome (by created_at,
-- then feedback_id), the mean completion quality over all its feedback and the
-- latest thumbs rating. Feedback may arrive before its request.
with

feedback as (
    select * from {{ ref('int_feedback_tenants_resolved') }}
),

feedback_ranked as (
    select
        request_id,
        tenant_id,
        outcome,
        completion_quality,
        rating,
        row_number() over (
            partition by request_id, tenant_id order by created_at desc, feedback_id desc
        ) as outcome_recency,
        row_number() over (
            partition by request_id, tenant_id
            order by case when rating is null then 1 else 0 end, created_at desc, feedback_id desc
        ) as rating_recency
    from feedback
),

summarized as (
    select
        request_id,
        tenant_id,
        max(case when outcome_recency = 1 then outcome end) as feedback_outcome,
        avg(completion_quality) as completion_quality,
        max(case when rating_recency = 1 then rating end) as rating,
        count(*) as feedback_count
    from feedback_ranked
    group by request_id, tenant_id
)

select * from summarized
