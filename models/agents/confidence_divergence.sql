with

scores as (
    select * from {{ ref('agent_confidence_scores') }}
),

diverging as (
    select
        agent_id,
        model,
        score_date,
        case when confidence_divergence > 0 then 'agent_higher' else 'agent_lower' end as divergence_direction,
        agent_confidence_score,
        global_confidence_score,
        confidence_divergence,
        cast({{ var('confidence_divergence_threshold') }} as double precision) as divergence_threshold,
        cumulative_observation_count,
        is_observed_day
    from scores
    where abs(confidence_divergence) > {{ var('confidence_divergence_threshold') }}
)

select * from diverging
